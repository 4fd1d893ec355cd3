"""Provider registration: a bad provider dict breaks every ``airflow`` command, so it is checked three ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_evolink import __version__
from airflow_provider_evolink.get_provider_info import get_provider_info

HOOK_CLASS = "airflow_provider_evolink.hooks.evolink.EvoLinkHook"


def _airflow_schema(name: str) -> dict[str, Any]:
    return json.loads(files("airflow").joinpath(name).read_text())


def test_provider_info_is_valid_against_airflows_schema() -> None:
    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))


def test_connection_type_is_valid_against_the_provider_yaml_schema() -> None:
    # provider_info.schema.json does not describe conn-fields / ui-field-behaviour; provider.yaml's does.
    schema = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], schema)


def test_package_name_and_version_match_the_distribution() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-evolink"
    assert info["versions"] == [__version__] == [metadata.version("airflow-provider-evolink")]
    entry_points = metadata.entry_points(group="apache_airflow_provider")
    ours = [ep for ep in entry_points if ep.value.startswith("airflow_provider_evolink")]
    assert [ep.load() for ep in ours] == [get_provider_info]


def test_connection_form_declares_fields_and_behaviour() -> None:
    (connection,) = get_provider_info()["connection-types"]
    assert connection["connection-type"] == "evolink"
    assert connection["hook-class-name"] == HOOK_CLASS
    assert set(connection["conn-fields"]) == {
        "timeout",
        "max_retries",
        "outage_tolerance",
        "files_base_url",
        "batch_reads",
    }
    assert "https://files-api.evolink.ai" in connection["conn-fields"]["files_base_url"]["description"]
    behaviour = connection["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"] == {"password": "API Key", "host": "Base URL"}
    assert behaviour["placeholders"]["host"] == "https://api.evolink.ai"


def test_the_description_reads_well_on_the_providers_page() -> None:
    import re

    from airflow.api_fastapi.core_api.services.public.providers import _remove_rst_syntax

    description = get_provider_info()["description"]
    # The page strips RST characters; what is left must be what was written (no glued "EvoLink https://…AI").
    assert _remove_rst_syntax(description) == description
    assert description.startswith("EvoLink AI video generation")
    assert re.findall(r"https?://\S+", description) == ["https://evolink.ai"]
    assert "FACTS" not in description


def test_the_providers_page_links_the_package_to_its_own_documentation() -> None:
    urls = dict(entry.split(", ", 1) for entry in metadata.metadata("airflow-provider-evolink").get_all("Project-URL"))
    assert urls["Documentation"] == "https://airflow-provider-evolink.readthedocs.io/"
    assert set(urls) >= {"Documentation", "Changelog", "Source"}
    assert all(url.startswith("https://") for url in urls.values())


def test_the_integration_is_tagged_and_illustrated_like_the_official_ai_providers() -> None:
    (integration,) = get_provider_info()["integrations"]
    assert {"ai", "generative-ai"} <= set(integration["tags"])
    assert integration["logo"].endswith("/_static/evolink-logo.svg")
    assert files("airflow_provider_evolink").joinpath("static/evolink-logo.svg").read_text().startswith("<svg")
    docs = Path(__file__).resolve().parents[1] / "docs"
    for guide in integration["how-to-guide"]:
        page = guide.split("/en/latest/", 1)[1].removesuffix(".html")
        assert (docs / f"{page}.md").is_file(), guide


def _options_read() -> set[str]:
    """Every ``[evolink]`` option the package's source reads through ``conf``."""
    import re

    package = Path(__file__).resolve().parents[1] / "airflow_provider_evolink"
    pattern = re.compile(
        r"conf\.(?:get|getint|getfloat|getboolean|getlist|getjson|has_option)\(\s*\"evolink\",\s*\"(\w+)\""
    )
    return {name for path in package.rglob("*.py") for name in pattern.findall(path.read_text())}


def test_config_declares_every_evolink_option_the_provider_reads() -> None:
    declared = get_provider_info()["config"]["evolink"]["options"]
    assert _options_read() == set(declared)
    assert "gallery_cache_folder" in declared


@pytest.mark.timeout(120)
def test_airflow_config_list_shows_the_evolink_section() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "config", "list", "--section", "evolink"],
        env={**os.environ, "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"]},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[evolink]" in result.stdout
    assert "gallery_cache_folder" in result.stdout


def test_connection_field_descriptions_state_the_rules_the_hook_enforces() -> None:
    (connection,) = get_provider_info()["connection-types"]
    fields = connection["conn-fields"]
    assert "greater than 0" in fields["timeout"]["description"]
    assert fields["timeout"]["schema"]["exclusiveMinimum"] == 0
    assert "whole number, 0 or more" in fields["max_retries"]["description"]
    assert fields["max_retries"]["schema"]["minimum"] == 0
    assert fields["max_retries"]["schema"]["type"] == ["integer", "null"]


def test_the_stored_video_link_is_registered() -> None:
    from airflow.sdk import BaseOperatorLink

    from airflow_provider_evolink.links.storage import StoredVideoLink

    assert get_provider_info()["extra-links"] == [f"{StoredVideoLink.__module__}.{StoredVideoLink.__qualname__}"]
    assert issubclass(StoredVideoLink, BaseOperatorLink)


def test_every_listed_module_exists_once_written() -> None:
    # Modules other engineers are still writing may be missing; those present must import cleanly.
    info = get_provider_info()
    modules = [
        m for key in ("hooks", "operators", "sensors", "triggers") for e in info[key] for m in e["python-modules"]
    ]
    modules += [t["python-module"] for t in info["transfers"]]
    root = Path(__file__).resolve().parents[1]
    for module in modules:
        path = root / (module.replace(".", "/") + ".py")
        if path.exists():
            __import__(module)
    assert "airflow_provider_evolink.hooks.evolink" in modules
    assert "airflow_provider_evolink.operators.files" in modules


@pytest.mark.airflow_min(
    "3.2", reason="the Task SDK's ProvidersManagerTaskRuntime; 3.1: tests/hooks/test_connection_form.py"
)
def test_providers_manager_sees_the_evolink_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    runtime = ProvidersManagerTaskRuntime()
    hook = runtime.hooks["evolink"]  # imports the hook class, as a worker resolving the connection does
    assert hook is not None
    assert hook.hook_class_name == HOOK_CLASS
    assert hook.connection_id_attribute_name == "evolink_conn_id"
    assert hook.hook_name == "EvoLink"

    manager = ProvidersManager()  # what the API server's connection form reads
    assert "airflow-provider-evolink" in manager.providers
    widgets = manager.connection_form_widgets
    assert {"extra__evolink__timeout", "extra__evolink__max_retries"} <= set(widgets)
    assert widgets["extra__evolink__timeout"].hook_class_name == HOOK_CLASS
    assert widgets["extra__evolink__max_retries"].field_name == "max_retries"
    behaviour = manager.field_behaviours["evolink"]
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"]["password"] == "API Key"


@pytest.mark.timeout(120)
def test_airflow_providers_list_shows_the_provider() -> None:
    # The test session's AIRFLOW_HOME (tests/conftest.py), never the user's.
    env = {**os.environ, "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"]}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "providers", "list", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Unit-test mode prints a log line before the JSON document.
    listed = json.loads(result.stdout[result.stdout.index('[{"package_name"') :])
    ours = [p for p in listed if p["package_name"] == "airflow-provider-evolink"]
    assert ours
    assert ours[0]["version"] == __version__
