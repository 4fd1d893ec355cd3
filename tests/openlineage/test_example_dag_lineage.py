"""The reference example DAG under ``dag.test()`` with the OpenLineage provider on, off and absent.

Each run is a fresh interpreter, as a worker is: the OpenLineage provider reads its configuration once per
process (``[openlineage] transport`` here: the file transport, one JSON event per line).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "evolink_reference_to_video"
#: A token in the input link's query string: it must not reach any event.
INPUT_TOKEN = "input-token-5f3a"
#: Run in the child: ``dag.test()`` of the reference DAG with the conf in argv[1]; prints the run's state.
_RUN_DAG = """
import json, sys
{prelude}
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.1
    from airflow.models.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[2]).dags[sys.argv[3]]
print("STATE=" + str(dag.test(run_conf=json.loads(sys.argv[1])).state))
"""
#: Hides the OpenLineage distributions (so Airflow discovers no such provider or plugin) and makes their
#: packages unimportable: a worker without the ``[openlineage]`` extra.
_WITHOUT_OPENLINEAGE = """
import importlib.metadata, importlib_metadata
for _metadata in (importlib.metadata, importlib_metadata):
    _all = _metadata.distributions
    _metadata.distributions = lambda *a, _all=_all, **k: (
        d for d in _all(*a, **k) if "openlineage" not in (d.metadata["Name"] or "").lower()
    )
sys.modules.update(dict.fromkeys(["openlineage", "airflow.providers.openlineage"]))
"""


def _run_reference_dag(conf: dict[str, Any], env: dict[str, str], prelude: str = "") -> str:
    """``dag.test()`` in a child interpreter with ``env`` added; returns its output (asserting success)."""
    code = _RUN_DAG.format(prelude=prelude)
    child_env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS), **env}
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(conf), str(EXAMPLE_DAGS), DAG_ID],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "STATE=success" in result.stdout, output[-5000:]
    return output


@pytest.fixture(scope="module")
def metadata_db() -> None:
    from airflow.utils.db import initdb

    initdb()


def _openlineage_env(events: Path) -> dict[str, str]:
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "evolink-tests",
        # Every attribute of every operator goes into the events: the strictest test of what the operators keep.
        "AIRFLOW__OPENLINEAGE__INCLUDE_FULL_TASK_INFO": "True",
    }


def _conf(emulator: Any, destination: Path) -> dict[str, Any]:
    return {
        "duration": 3,
        "quality": "720p",
        "video_url": f"{emulator.base_url}/samples/reference.mp4?token={INPUT_TOKEN}",
        "destination": destination.as_uri(),
    }


@pytest.fixture(scope="module")
def lineage_run(metadata_db: None, emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run with the file transport: its raw event lines, COMPLETE events by task and the stored video."""
    folder = tmp_path_factory.mktemp("lineage")
    events = folder / "events.jsonl"
    _run_reference_dag(_conf(emulator, folder / "videos"), _openlineage_env(events))
    lines = events.read_text().splitlines()
    complete = {}
    for event in map(json.loads, lines):
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith(f"{DAG_ID}."):
            complete[event["job"]["name"].removeprefix(f"{DAG_ID}.")] = event
    (video,) = (folder / "videos").rglob("*.mp4")
    return {"raw": "\n".join(lines), "complete": complete, "video": video, "base_url": emulator.base_url}


def test_generate_reports_its_input_named_without_the_query_string(lineage_run: dict[str, Any]) -> None:
    generate = lineage_run["complete"]["generate"]
    assert [(d["namespace"], d["name"]) for d in generate["inputs"]] == [
        (lineage_run["base_url"], "/samples/reference.mp4")
    ]
    assert generate["outputs"] == []  # it did not wait: it cannot know the results


def test_generate_names_the_evolink_task_and_its_credits_in_run_facets(lineage_run: dict[str, Any]) -> None:
    facets = lineage_run["complete"]["generate"]["run"]["facets"]
    evolink_task_id = lineage_run["video"].stem
    assert facets["externalQuery"]["externalQueryId"] == evolink_task_id
    assert facets["externalQuery"]["source"] == lineage_run["base_url"]
    generation = facets["evolink_generation"]
    assert generation["model"] == "kling-o3-reference-to-video"
    assert generation["durationSeconds"] == 3
    assert generation["quality"] == "720p"
    assert generation["estimatedCredits"] == pytest.approx(24.3)  # 8.1 credits/s x 3 s
    assert generation["reservedCredits"] == pytest.approx(24.3)  # what the emulator's create answer reserved
    assert generation["_schemaURL"].startswith("https://openlineage.io/spec/")


def test_save_reads_the_result_without_its_signature_and_writes_the_video_with_its_size(
    lineage_run: dict[str, Any],
) -> None:
    from airflow_provider_evolink.emulator.store import RESULT_NAME

    save = lineage_run["complete"]["save"]
    video: Path = lineage_run["video"]
    assert [(d["namespace"], d["name"]) for d in save["inputs"]] == [
        (lineage_run["base_url"], f"/files/{video.stem}/{RESULT_NAME}")
    ]
    (output,) = save["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(video))
    assert output["outputFacets"]["outputStatistics"]["size"] == video.stat().st_size
    assert output["outputFacets"]["outputStatistics"]["fileCount"] == 1


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in an event with its path, e.g. ``(".run.facets.externalQuery.source", "http://…")``."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _strings(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _strings(item, f"{path}[{index}]")]
    return [(path, value)] if isinstance(value, str) else []


def test_no_event_holds_a_signed_query_string_or_a_temporary_name(lineage_run: dict[str, Any]) -> None:
    assert lineage_run["complete"].keys() >= {"build_request", "generate", "wait", "save"}
    raw = lineage_run["raw"]
    for secret in ("sig=", "expires=", ".part-", "sk-emulator"):
        assert secret not in raw
    # The signed input link came in through the run's conf. Airflow's own facets ("airflow", "airflowDagRun")
    # copy the conf and, with full task info, the tasks' arguments as given; everywhere else (datasets and
    # this provider's facets) it is named without its query string.
    airflows_own = (".run.facets.airflow.", ".run.facets.airflowDagRun.")
    for line in raw.splitlines():
        leaked = [path for path, text in _strings(json.loads(line)) if INPUT_TOKEN in text]
        assert all(path.startswith(airflows_own) for path in leaked), leaked


def test_the_sensor_reports_no_datasets(lineage_run: dict[str, Any]) -> None:
    wait = lineage_run["complete"]["wait"]
    assert wait["inputs"] == []
    assert wait["outputs"] == []


def test_without_the_openlineage_packages_the_dag_runs_and_emits_nothing(
    metadata_db: None, emulator: Any, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    _run_reference_dag(_conf(emulator, tmp_path / "videos"), _openlineage_env(events), prelude=_WITHOUT_OPENLINEAGE)
    assert len(list((tmp_path / "videos").rglob("*.mp4"))) == 1
    assert not events.exists()


def test_dag_facing_modules_import_nothing_from_openlineage() -> None:
    """Neither the OpenLineage client nor the provider's code; Airflow's provider discovery itself reads the
    ``get_provider_info`` of every installed provider, so that one module is allowed."""
    modules = [
        "airflow_provider_evolink.operators.evolink",
        "airflow_provider_evolink.sensors.evolink",
        "airflow_provider_evolink.transfers.evolink_to_storage",
        "airflow_provider_evolink.openlineage",
    ]
    code = "".join(f"import {name}\n" for name in modules) + "import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert "airflow_provider_evolink.openlineage.facets" not in imported
    assert [m for m in imported if m.split(".")[0] == "openlineage"] == []
    assert [m for m in imported if m.startswith("airflow.providers.openlineage.")] in (
        [],
        ["airflow.providers.openlineage.get_provider_info"],
    )
