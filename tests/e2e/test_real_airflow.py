"""
``evolink_reference_to_video`` under a real Airflow (3.3.2 in ``make test``; 3.1, 3.2, 3.3.1 in ``make test-compat``):
scheduler, DAG processor, triggerer and API server.

``airflow standalone`` runs every component as its own process (LocalExecutor, PostgreSQL) in a throw-away
``AIRFLOW_HOME``; the emulator runs in this process. The run is triggered through the CLI, as a user would, and
watched through the metadata DB. The emulator takes longer to "render" than the sensor's first check, so the
sensor must defer and its wait must run in the triggerer, not in a worker.

One kill-and-retry path rides along: the emulator holds the first ``POST /v1/videos/generations`` for a few
seconds, and the generate task's process is SIGKILLed while it waits for the answer (the outcome of its POST is
unknown to it). Airflow retries it; the retry must end with the one EvoLink task that POST created (the stored
``Idempotency-Key`` replays it), never a second, billed one.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAG_ID = "evolink_reference_to_video"
RUN_ID = "e2e_real_airflow"
#: Longer than submit → the killed try's retry (the DAG's retry_delay is 30 s) → the sensor's first check, so the
#: sensor finds the task unfinished.
PROCESSING_SECONDS = 90.0
#: Seconds the emulator holds the first POST: the window in which the generate task is killed.
POST_HOLD_SECONDS = 8.0
DURATION = 3


def _kill_generate_during_its_post(emulator: Any, airflow: Any) -> None:
    """SIGKILL the generate task's process while the emulator holds its POST, then let the API answer at once."""

    def post_in_flight() -> bool:
        return any(
            r["method"] == "POST" and r["path"] == "/v1/videos/generations" and r["status"] is None
            for r in emulator.requests()
        )

    airflow.wait_for("the generate task's POST", post_in_flight, 240.0)
    [(ti_id,)] = airflow.query(
        "SELECT id FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'generate'", DAG_ID, RUN_ID
    )
    wanted = str(ti_id).replace("-", "")

    def task_runner() -> psutil.Process | None:
        # The task's own process is titled exactly "airflow worker -- <task instance id>". Its parent, the
        # supervisor ("airflow worker -- LocalExecutor: <id>"), must live on to report the death to Airflow.
        for child in airflow.descendants():
            with suppress(psutil.Error):
                title = " ".join(child.cmdline()).split()
                if title[:3] == ["airflow", "worker", "--"] and title[3:] and title[3].replace("-", "") == wanted:
                    return child
        return None

    airflow.wait_for("the generate task's process", task_runner, 30.0).send_signal(signal.SIGKILL)
    emulator.set_faults(rate_slow=0.0)


def test_reference_to_video_survives_a_killed_try_and_defers_to_the_triggerer(
    tmp_path: Path, airflow_standalone: Callable[..., Any]
) -> None:
    import av

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    videos = tmp_path / "videos"
    with EvoLinkEmulator(processing_seconds=PROCESSING_SECONDS) as emulator:
        started = time.monotonic()
        airflow = airflow_standalone(
            tmp_path / "airflow",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW_CONN_EVOLINK_DEFAULT=json.dumps(
                {
                    "conn_type": "evolink",
                    "host": emulator.base_url,
                    "password": emulator.api_key,
                    "extra": {"max_retries": 2},
                }
            ),
            EVOLINK_POLL_INTERVAL="2",
        )
        try:
            airflow.wait_for_dag(DAG_ID)
            print(f"{time.monotonic() - started:5.1f} s  {DAG_ID} serialized")
            conf = {"duration": DURATION, "aspect_ratio": "1:1", "destination": videos.as_uri()}
            emulator.set_faults(rate_slow=1.0, slow_seconds=POST_HOLD_SECONDS)  # until the kill
            # A run triggered while paused waits queued, so the two commands need no order.
            airflow.cli(
                ["dags", "unpause", DAG_ID],
                ["dags", "trigger", DAG_ID, "--run-id", RUN_ID, "--conf", json.dumps(conf)],
            )
            print(f"{time.monotonic() - started:5.1f} s  triggered")
            _kill_generate_during_its_post(emulator, airflow)
            print(f"{time.monotonic() - started:5.1f} s  generate killed during its POST")
            sensor_states: list[str] = []

            def record_sensor_state() -> None:
                state = airflow.task_states(DAG_ID, RUN_ID).get("wait")
                if state and (not sensor_states or sensor_states[-1] != state):
                    sensor_states.append(state)

            _, state = airflow.wait_for_run(DAG_ID, RUN_ID, on_poll=record_sensor_state)
            print(f"{time.monotonic() - started:5.1f} s  run {state}; sensor states {sensor_states}")
            task_states = airflow.task_states(DAG_ID, RUN_ID)
            generate_tries = airflow.query(
                # The latest try (from Airflow 3.4 each try is a row of its own).
                "SELECT max(try_number) FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'generate'",
                DAG_ID,
                RUN_ID,
            )
        finally:
            airflow.stop()

        assert state == "success", f"run ended {state}; tasks {task_states}\n{airflow.tail()}"
        assert task_states == {"build_request": "success", "generate": "success", "wait": "success", "save": "success"}
        # The wait ran in the triggerer: the sensor was seen deferred, and the triggerer wrote its trigger log.
        assert "deferred" in sensor_states, f"the sensor never deferred: {sensor_states}"
        wait_logs = airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={RUN_ID}" / "task_id=wait"
        trigger_logs = [p.read_text() for p in wait_logs.glob("attempt=*.log.trigger.*.log")]
        assert any("Waiting for EvoLink task task-unified-" in text for text in trigger_logs), (
            f"no triggerer log of the EvoLink trigger in {sorted(p.name for p in wait_logs.iterdir())}"
        )
        # The killed try and its retry: two POSTs with one Idempotency-Key, one EvoLink task.
        submissions = [
            r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/v1/videos/generations"
        ]
        assert len(submissions) == 2, submissions
        assert len({r["idempotency_key"] for r in submissions}) == 1
        assert len({r["task_id"] for r in submissions if r["task_id"]}) == 1
        assert generate_tries == [(2,)]

    (video,) = videos.rglob("*.mp4")
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (container.duration or 0) / av.time_base == pytest.approx(DURATION, abs=0.25)
        assert stream.width == stream.height  # 1:1
