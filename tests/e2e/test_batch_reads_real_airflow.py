"""
Shared batch reads (``triggers/coalescer.py``) under a real Airflow 3.3: many mapped generates deferred to the
triggerer at once read their tasks through ``POST /v1/tasks/batch``, and when the batch route disappears mid-run
every wait goes on with single reads and ends as it would have.

``airflow standalone`` (LocalExecutor, PostgreSQL, ``[core] parallelism`` 4) runs ``dags/evolink_many_waits.py``:
one mapped :class:`EvoLinkGenerateVideoOperator` of ``WAITS`` instances, each submitting a video and deferring its
wait. Deferred task instances hold no executor slot, so all waits sit in the one triggerer together while the
emulator (in this process) renders for ``PROCESSING_SECONDS``. One Airflow start, two runs:

* ``batched`` (``batch_reads`` auto, the default): every instance succeeds; the emulator's request log shows batch
  calls answered 200 carrying several tasks, and far fewer read requests than task reads.
* ``fallback``: once its first batch read is answered, the emulator's batch route answers 404 as a server without
  it would. Every instance still succeeds; after the 404 no batch call succeeds and every task is read alone;
  the triggerer logs once that batch reads are not available.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

DAGS = Path(__file__).with_name("dags")
DAG_ID = "evolink_many_waits"
WAITS = 10  # dags/evolink_many_waits.py
#: Longer than submitting every instance four at a time (about 10 s here), so that all waits overlap in the triggerer.
PROCESSING_SECONDS = 25.0
BATCH = "/v1/tasks/batch"
#: What the coalescer logs, once, when it turns batching off (coalescer.py ``_turn_off``).
UNAVAILABLE = "EvoLink batch reads (POST /v1/tasks/batch) are not available here"


def _trigger(airflow: Any, run_id: str) -> float:
    """Trigger a run through the REST API; returns when (``time.time()``, the emulator's clock)."""
    started = time.time()
    answer = airflow.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"dag_run_id": run_id, "logical_date": None})
    assert answer.status_code == 200, answer.text
    return started


def _wait(airflow: Any, run_id: str) -> tuple[str, dict[str, int], int]:
    """Wait for the run to end: its state, ``{state: instances}`` and the most instances seen deferred at once."""
    deferred = [0]

    def count_deferred() -> None:
        rows = airflow.query(
            "SELECT count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND state = 'deferred'", DAG_ID, run_id
        )
        deferred[0] = max(deferred[0], rows[0][0] if rows else 0)

    _, state = airflow.wait_for_run(DAG_ID, run_id, on_poll=count_deferred)
    states = airflow.query(
        "SELECT state, count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state", DAG_ID, run_id
    )
    return state, dict(states), deferred[0]


def _reads(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch calls and the single task reads (``GET /v1/tasks/{id}``) among ``entries``."""
    batches = [r for r in entries if r["method"] == "POST" and r["path"] == BATCH]
    singles = [r for r in entries if r["method"] == "GET" and r["path"].startswith("/v1/tasks/")]
    return batches, singles


def _carried(batch: dict[str, Any]) -> int:
    """Tasks a batch call read (the emulator logs their IDs comma-separated)."""
    return len(batch["task_id"].split(",")) if batch["task_id"] else 0


def _check_batched(outcome: tuple[str, dict[str, int], int], run: list[dict[str, Any]], airflow: Any) -> None:
    """(a) Every wait succeeded, all were deferred at once, and they were read in batches of several tasks."""
    assert outcome == ("success", {"success": WAITS}, WAITS), f"{outcome}\n{airflow.tail()}"
    batches, singles = _reads(run)
    served = [_carried(b) for b in batches if b["status"] == 200]
    requests, task_reads = len(batches) + len(singles), sum(served) + len(singles)
    print(f"batched run: {len(batches)} batch calls carrying {served}, {len(singles)} single reads")
    assert max(served, default=0) >= 3, f"no batch read of several tasks: {served}"
    # Single reads would need one request per task read; the workers' re-read after each event is one of them.
    assert requests <= task_reads / 2, f"{requests} read requests for {task_reads} task reads"


def test_deferred_waits_share_batch_reads_and_fall_back_to_single_reads_when_the_route_goes(
    tmp_path: Path, airflow_standalone: Callable[..., Any]
) -> None:
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=PROCESSING_SECONDS, fetch_inputs=False) as emulator:
        began = time.monotonic()
        airflow = airflow_standalone(
            tmp_path / "airflow",
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW_CONN_EVOLINK_DEFAULT=json.dumps(
                {"conn_type": "evolink", "host": emulator.base_url, "password": emulator.api_key}
            ),
        )
        try:
            airflow.wait_for_dag(DAG_ID)
            print(f"{time.monotonic() - began:5.1f} s  {DAG_ID} serialized")
            batched_at = _trigger(airflow, "batched")
            batched = _wait(airflow, "batched")
            print(f"{time.monotonic() - began:5.1f} s  run batched: {batched}")
            _check_batched(batched, [r for r in emulator.requests() if r["time"] >= batched_at], airflow)

            fallback_at = _trigger(airflow, "fallback")
            airflow.wait_for(
                "the second run's first batch read",
                lambda: any(r["status"] == 200 for r in _reads(emulator.requests())[0] if r["time"] > fallback_at),
                120.0,
            )
            emulator.set_faults(rate_batch_404=1.0)
            print(f"{time.monotonic() - began:5.1f} s  batch route gone")
            fallback = _wait(airflow, "fallback")
            print(f"{time.monotonic() - began:5.1f} s  run fallback: {fallback}")
        finally:
            airflow.stop()
        log = emulator.requests()

    # (b) Fallback: same outcome; after the 404, no batch succeeded and every task was read alone.
    assert fallback == ("success", {"success": WAITS}, WAITS), f"{fallback}\n{airflow.tail()}"
    run = [r for r in log if r["time"] >= fallback_at]
    batches, singles = _reads(run)
    met_404 = [r["time"] for r in batches if r["status"] == 404]
    assert met_404, f"no batch call met the 404: {batches}"
    gone = min(met_404)
    assert not [r for r in batches if r["time"] > gone and r["status"] != 404], batches
    created = {r["task_id"] for r in run if r["method"] == "POST" and r["path"] == "/v1/videos/generations"}
    assert len(created) == WAITS
    # Each task: at least the triggerer's read that saw it done, and the worker's re-read after the event.
    alone = {task: sum(r["path"].endswith(task) for r in singles if r["time"] > gone) for task in created}
    assert min(alone.values()) >= 2, alone
    logged = [
        line
        for path in [airflow.log, *(airflow.home / "logs").rglob("*.log")]
        for line in path.read_text(errors="replace").splitlines()
        if UNAVAILABLE in line
    ]
    assert len(logged) == 1, logged
