"""
The example DAGs on a production-shaped Airflow 3.3, and the kills that matter there.

Airflow runs as a platform team deploys it: the session's PostgreSQL as the metadata DB, CeleryExecutor with the
session's ``redis-server`` as the broker, and each component a process (group) of its own: API server, scheduler,
DAG processor, one Celery worker and two triggerers. The settings that decide how fast a failure is noticed are
shortened (triggerer heartbeat 1 s, unhealthy after :data:`TRIGGERER_THRESHOLD_SECONDS`; a task instance whose
heartbeat stops fails after :data:`TASK_HEARTBEAT_TIMEOUT_SECONDS`), as ``docs/production.md`` describes.

* A triggerer holding every deferred wait is SIGKILLed (with its runner, as a lost machine): the other takes them
  over, every run succeeds, each video is one EvoLink task (one ``POST`` per video in the emulator's log). The
  takeover time is printed.
* The Celery worker is SIGKILLed while ``save`` streams a big result to disk: the retry (``[core]
  default_task_retries = 1``, as a deployment sets it) stores the whole file and leaves no ``.part-`` file.

The figures (takeover seconds, POSTs per video, temporary files left) are printed even when the test passes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from airflow_standalone import Airflow
from servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.production, pytest.mark.timeout(900)]

EXAMPLE_DAGS = ("evolink_reference_to_video", "evolink_motion_control", "evolink_batch")
#: Two prompts: both of the batch's videos are in flight at once (``max_active_tis_per_dagrun=2``).
BATCH_PROMPTS = ["A lighthouse at dawn, slow dolly in", "A fox in fresh snow, close-up"]
#: One wait per run, two for the batch: the deferred waits the killed triggerer holds.
DEFERRED_WAITS = 4
#: Render time: longer than submit → defer → the second triggerer's start → the kill, so every wait is still
#: deferred when its triggerer dies, even on a loaded 2-core machine.
PROCESSING_SECONDS = 100.0
#: Render time in the worker-kill test, where no wait must outlast anything: the save is what is killed.
SAVE_TEST_PROCESSING_SECONDS = 10.0
#: Every result is a blob this big: a save takes long enough (about a second) to be killed in the middle.
RESULT_BYTES = 512 * 1024 * 1024
TRIGGERER_THRESHOLD_SECONDS = 6
TASK_HEARTBEAT_TIMEOUT_SECONDS = 20
RUN_TIMEOUT = 420.0
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "worker": ["celery", "worker", "--concurrency", "2", "--without-gossip", "--without-mingle"],
    "triggerer-a": ["triggerer"],
    "triggerer-b": ["triggerer"],
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=PROCESSING_SECONDS, result_size_bytes=RESULT_BYTES) as emu:
        yield emu


@pytest.fixture(scope="module")
def airflow(
    emulator: Any, airflow_database: Callable[[], str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Airflow]:
    """The production-shaped Airflow, migrated and started, except the second triggerer (the test starts it)."""
    connection = {
        "conn_type": "evolink",
        "host": emulator.base_url,
        "password": emulator.api_key,
        "extra": {"max_retries": 2, "files_base_url": emulator.files_base_url},
    }
    airflow = Airflow(
        tmp_path_factory.mktemp("airflow-production"),
        airflow_database(),
        COMPONENTS,
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CELERY__BROKER_URL=redis_url,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=str(TRIGGERER_THRESHOLD_SECONDS),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(TASK_HEARTBEAT_TIMEOUT_SECONDS),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        AIRFLOW__CORE__DEFAULT_TASK_RETRIES="1",
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="5",
        AIRFLOW_CONN_EVOLINK_DEFAULT=json.dumps(connection),
        EVOLINK_POLL_INTERVAL="2",
    )
    try:
        airflow.cli(["db", "migrate"])
        airflow.start(*(name for name in COMPONENTS if name != "triggerer-b"))
        for dag_id in EXAMPLE_DAGS:
            airflow.wait_for_dag(dag_id)
        for dag_id in EXAMPLE_DAGS:
            airflow.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        yield airflow
    finally:
        airflow.stop()


def _trigger(airflow: Airflow, dag_id: str, run_id: str, **conf: Any) -> None:
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
    airflow.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).raise_for_status()


def _submissions(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/v1/videos/generations"]


def _running_triggerers(airflow: Airflow) -> list[int]:
    sql = "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' ORDER BY id"
    return [job_id for (job_id,) in airflow.query(sql)]


def _files(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(stored files, temporary .part- files)`` under ``folder``."""
    every = [path for path in folder.rglob("*") if path.is_file()]
    return [p for p in every if ".part-" not in p.name], [p for p in every if ".part-" in p.name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _report(capsys: pytest.CaptureFixture[str], *lines: str) -> None:
    with capsys.disabled():  # the figures go to the CI log even when the test passes
        print("\n" + "\n".join(f"[production] {line}" for line in lines))


def test_the_example_dags_succeed_and_a_killed_triggerers_waits_are_taken_over(
    airflow: Airflow, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    for dag_id in EXAMPLE_DAGS:
        conf: dict[str, Any] = {"destination": (tmp_path / dag_id).as_uri()}
        if dag_id == "evolink_batch":
            conf["prompt"] = BATCH_PROMPTS
        _trigger(airflow, dag_id, "production", **conf)
    (triggerer_a,) = airflow.wait_for("the first triggerer's job", lambda: _running_triggerers(airflow), 60)

    def all_waits_on_a() -> list[int] | None:
        rows = airflow.query("SELECT id, triggerer_id FROM trigger")
        if len(rows) != DEFERRED_WAITS or {holder for _, holder in rows} != {triggerer_a}:
            return None
        return [trigger_id for trigger_id, _ in rows]

    trigger_ids = airflow.wait_for(f"{DEFERRED_WAITS} deferred waits on the first triggerer", all_waits_on_a, 240)
    deferred_at = time.monotonic() - started
    airflow.launch("triggerer-b", AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()))
    (triggerer_b,) = airflow.wait_for(
        "the second triggerer's job", lambda: [j for j in _running_triggerers(airflow) if j != triggerer_a], 120
    )
    held = airflow.query("SELECT id FROM trigger WHERE triggerer_id = ?", triggerer_a)
    assert sorted(held) == sorted((trigger_id,) for trigger_id in trigger_ids), "a wait ended before the kill"
    evolink_ids = {r["task_id"] for r in _submissions(emulator)}

    killed_at = airflow.kill("triggerer-a")
    airflow.wait_for(
        "the second triggerer to take every wait over",
        lambda: (
            {b for (b,) in airflow.query("SELECT triggerer_id FROM trigger WHERE id = ANY(?)", trigger_ids)}
            == {triggerer_b}
        ),
        120,
    )
    reassigned = time.time() - killed_at

    def read_again() -> float | None:
        first_reads = {}
        for r in emulator.requests():
            if r["method"] == "GET" and r["task_id"] in evolink_ids and r["time"] > killed_at:
                first_reads.setdefault(r["task_id"], r["time"])
        return max(first_reads.values()) - killed_at if len(first_reads) == len(evolink_ids) else None

    read_seconds = airflow.wait_for("every EvoLink task read again", read_again, RUN_TIMEOUT)
    states = {dag_id: airflow.wait_for_run(dag_id, "production", timeout=RUN_TIMEOUT)[1] for dag_id in EXAMPLE_DAGS}
    stored, temporary = _files(tmp_path)
    submissions = _submissions(emulator)
    _report(
        capsys,
        f"{DEFERRED_WAITS} waits deferred on triggerer A {deferred_at:.0f} s after the runs were triggered",
        f"triggerer A SIGKILLed: its waits reassigned to B after {reassigned:.1f} s, every EvoLink task read again "
        f"by B after {read_seconds:.1f} s (health-check threshold {TRIGGERER_THRESHOLD_SECONDS} s)",
        f"runs {states}; {len(submissions)} POSTs for {len(stored)} videos; {len(temporary)} temporary files left",
    )

    assert len(evolink_ids) == DEFERRED_WAITS
    assert states == dict.fromkeys(EXAMPLE_DAGS, "success"), airflow.tail()
    assert len(stored) == DEFERRED_WAITS, stored
    assert all(path.stat().st_size == RESULT_BYTES for path in stored)
    assert temporary == []
    # One EvoLink task per video: no wait, re-created on the other triggerer, submitted again.
    assert len(submissions) == DEFERRED_WAITS
    assert {r["task_id"] for r in submissions} == evolink_ids


def test_a_worker_killed_mid_save_is_retried_into_the_whole_file_and_no_part_file(
    airflow: Airflow,
    emulator: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_evolink.emulator.media import BlobContent

    dag_id, run_id = "evolink_reference_to_video", "save_killed"
    posts_before = len(_submissions(emulator))
    # Nothing here outlives a render (the kill is in the save): renders as short as SAVE_TEST_PROCESSING_SECONDS.
    monkeypatch.setattr(emulator._store, "processing_seconds", SAVE_TEST_PROCESSING_SECONDS)
    _trigger(airflow, dag_id, run_id, destination=tmp_path.as_uri())

    def saving() -> bool:
        with suppress(FileNotFoundError):  # renamed between the listing and the stat: the save ended
            return any(path.stat().st_size > RESULT_BYTES // 8 for path in _files(tmp_path)[1])
        return False

    airflow.wait_for("save to be writing its temporary file", saving, SAVE_TEST_PROCESSING_SECONDS + 180)
    airflow.kill("worker")
    _, temporary_at_kill = _files(tmp_path)
    part_bytes = sum(path.stat().st_size for path in temporary_at_kill)
    airflow.launch("worker")
    _, state = airflow.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    stored, temporary = _files(tmp_path)
    (save_try,) = airflow.query(
        "SELECT max(try_number) FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'save'", dag_id, run_id
    )
    _report(
        capsys,
        f"Celery worker SIGKILLed mid-save ({part_bytes / 2**20:.0f} of {RESULT_BYTES / 2**20:.0f} MiB written): "
        f"run {state}, save try {save_try[0]}, {len(stored)} file(s) stored, {len(temporary)} temporary files left",
    )

    assert state == "success", f"{airflow.task_states(dag_id, run_id)}\n{airflow.tail()}"
    assert save_try == (2,)
    assert temporary_at_kill
    assert temporary == []
    (video,) = stored
    assert video.stat().st_size == RESULT_BYTES
    assert _sha256(video) == BlobContent(RESULT_BYTES).sha256()
    assert len(_submissions(emulator)) == posts_before + 1
