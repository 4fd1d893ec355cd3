"""README's "Where things live" names every module of the package, so each "where is X?" has an answer there."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "airflow_provider_evolink"


def _rows() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def _named(module: Path, rows: list[str]) -> bool:
    """A row names the module's path, or its folder's path together with its file name (``__init__.py``: the folder
    alone, when the folder has a row)."""
    path = module.relative_to(REPO).as_posix()
    folder = module.parent.relative_to(REPO).as_posix() + "/"
    for row in rows:
        if f"`{path}`" in row:
            return True
        if f"`{folder}`" in row and (module.name == "__init__.py" or f"`{module.name}`" in row):
            return True
    return False


def test_every_module_of_the_package_is_named_in_where_things_live() -> None:
    rows = _rows()
    # An empty __init__.py only marks a folder: there is nothing in it to find.
    modules = [path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py" or path.read_text().strip()]
    missing = [path.relative_to(REPO).as_posix() for path in sorted(modules) if not _named(path, rows)]
    assert len(modules) > 50
    assert missing == []


def test_every_row_names_something_that_exists() -> None:
    for row in _rows():
        path = row.split("`")[1]
        assert (REPO / path).exists(), row[:80]
