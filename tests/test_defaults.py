"""The defaults live in one module: the connection form and the docs' connection table show its values."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from airflow_provider_evolink import defaults
from airflow_provider_evolink.get_provider_info import get_provider_info

CONNECTION_PAGE = Path(__file__).resolve().parents[1] / "docs" / "connection.md"


def _docs_connection_defaults() -> dict[str, str]:
    """``{field label: the default the connection table of docs/connection.md gives}``."""
    section = CONNECTION_PAGE.read_text(encoding="utf-8").split("# The connection", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    found = {label.strip(): re.search(r"; default `?([^`\s;]+)", text) for label, text in rows}
    return {label: match.group(1) for label, match in found.items() if match}


def test_the_docs_connection_table_gives_the_defaults_of_the_defaults_module() -> None:
    assert _docs_connection_defaults() == {
        "Timeout (seconds)": f"{defaults.DEFAULT_TIMEOUT:g}",
        "Max retries": str(defaults.DEFAULT_MAX_RETRIES),
        "Outage tolerance (seconds)": f"{defaults.DEFAULT_OUTAGE_TOLERANCE:g}",
        "Files API URL": defaults.DEFAULT_FILES_BASE_URL,
        "Batch reads": defaults.DEFAULT_BATCH_READS,
    }


def test_the_connection_form_states_each_default_of_the_defaults_module() -> None:
    fields = get_provider_info()["connection-types"][0]["conn-fields"]

    assert f"(default {defaults.DEFAULT_TIMEOUT:g})" in fields["timeout"]["description"]
    assert f"(default {defaults.DEFAULT_MAX_RETRIES})" in fields["max_retries"]["description"]
    assert f"(default {defaults.DEFAULT_OUTAGE_TOLERANCE:g})" in fields["outage_tolerance"]["description"]
    assert f"(default {defaults.DEFAULT_FILES_BASE_URL})" in fields["files_base_url"]["description"]
    assert f"(default {defaults.DEFAULT_BATCH_READS})" in fields["batch_reads"]["description"]


def test_the_defaults_module_imports_nothing() -> None:
    tree = ast.parse(Path(defaults.__file__).read_text(encoding="utf-8"))
    assert [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)] == []


def test_the_api_reference_names_every_connection_extra() -> None:
    reference = (Path(defaults.__file__).parent / "api_reference" / "evolink-api.md").read_text(encoding="utf-8")
    extras = get_provider_info()["connection-types"][0]["conn-fields"]

    assert sorted(extras) == ["batch_reads", "files_base_url", "max_retries", "outage_tolerance", "timeout"]
    assert [name for name in extras if f"`{name}`" not in reference] == []
