"""The documentation's facts that the package fixes: the Airflow floor and the list of example DAGs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _airflow_floor() -> str:
    """``"3.1"`` from ``apache-airflow>=3.1.0`` in ``pyproject.toml``'s dependencies."""
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    [floor] = [m.group(1) for d in dependencies if (m := re.fullmatch(r"apache-airflow>=(\d+\.\d+)\.\d+", d))]
    return floor


def test_the_docs_give_pyprojects_airflow_floor() -> None:
    floor = _airflow_floor()
    index = (REPO / "docs" / "index.md").read_text()
    installation = (REPO / "docs" / "installation.md").read_text()

    assert re.findall(r"\[Apache Airflow\]\([^)]*\) (\d+\.\d+)\+", index) == [floor]
    assert f"Apache Airflow | {floor}.0 and later (`apache-airflow>={floor}.0`)" in installation


def test_every_example_dag_is_listed_in_the_example_dags_page() -> None:
    page = (REPO / "docs" / "example-dags.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.MULTILINE))
    # Each example file is named after its DAG.
    example_files = {path.stem for path in (REPO / "example_dags").glob("*.py")}

    assert len(example_files) >= 4
    assert example_files == listed
