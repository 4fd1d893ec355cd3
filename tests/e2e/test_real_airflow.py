"""
``evolink_reference_to_video`` under a real Airflow 3.3: scheduler, DAG processor, triggerer and API server.

``airflow standalone`` runs every component as its own process (LocalExecutor, SQLite) in a throw-away
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
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
DAG_ID = "evolink_reference_to_video"
RUN_ID = "e2e_real_airflow"
#: Longer than submit → the killed try's retry (the DAG's retry_delay is 30 s) → the sensor's first check, so the
#: sensor finds the task unfinished.
PROCESSING_SECONDS = 90.0
DURATION = 3
#: Seconds the emulator holds the first POST: the window in which the generate task is killed.
POST_HOLD_SECONDS = 8.0
#: Generous ceilings for a loaded machine; on an idle 2-core one the whole test takes about 2 minutes.
STARTUP_TIMEOUT = 240.0
RUN_TIMEOUT = 240.0


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _airflow_env(home: Path, evolink_base_url: str, api_key: str) -> dict[str, str]:
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",  # standalone runs `airflow` by name
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # Parse once at start, not every 30 s: the CPU goes to the run (2 cores).
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            # The scheduler's and triggerer's log servers default to fixed ports: never collide with another run.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW_CONN_EVOLINK_DEFAULT": json.dumps(
                {"conn_type": "evolink", "host": evolink_base_url, "password": api_key, "extra": {"max_retries": 2}}
            ),
            "EVOLINK_POLL_INTERVAL": "2",
        }
    )
    return env


@contextmanager
def _standalone(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``airflow standalone`` in its own process group, killed with all its children on any exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(AIRFLOW), "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, every process group of ``airflow standalone``'s tree.

    Its components share its group, but Airflow puts each task runner in a group of its own: those groups are
    collected from the live tree before each signal, so a run cut short by a failure leaves nothing behind.
    """
    groups: set[int] = {proc.pid}
    family: dict[int, psutil.Process] = {}
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with suppress(psutil.Error):
            leader = psutil.Process(proc.pid)
            for member in [leader, *leader.children(recursive=True)]:
                family[member.pid] = member
                with suppress(psutil.Error, OSError):
                    groups.add(os.getpgid(member.pid))
        for group in groups - {os.getpgrp()}:  # never our own group
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        _, alive = psutil.wait_procs(list(family.values()), timeout=grace)
        proc.poll()  # reap the leader, our child
        if not alive:
            return


def _query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the metadata DB while Airflow writes it: read-only, tolerant of a briefly locked or absent DB."""
    if not db.exists():
        return []
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # locked, or the tables are not created yet
        return []


def _cli(env: dict[str, str], *commands: list[str]) -> None:
    """Run ``airflow`` CLI commands side by side (each pays Airflow's start-up cost) and require success."""
    procs = [
        subprocess.Popen([str(AIRFLOW), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for args in commands
    ]
    for args, proc in zip(commands, procs, strict=True):
        try:
            output, _ = proc.communicate(timeout=90)
        finally:
            proc.kill()  # no-op once it exited; ends a hung CLI on timeout
        assert proc.returncode == 0, f"airflow {' '.join(args)} failed:\n{output}"


def _wait_for(what: str, check: Any, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"airflow standalone exited ({proc.returncode}) while waiting for {what}:\n{_tail(log)}")
        if result := check():
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def _kill_generate_during_its_post(emulator: Any, db: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGKILL the generate task's process while the emulator holds its POST, then let the API answer at once."""

    def post_in_flight() -> bool:
        return any(
            r["method"] == "POST" and r["path"] == "/v1/videos/generations" and r["status"] is None
            for r in emulator.requests()
        )

    _wait_for("the generate task's POST", post_in_flight, RUN_TIMEOUT, proc, log)
    [(ti_id,)] = _query(
        db, "SELECT id FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'generate'", DAG_ID, RUN_ID
    )
    wanted = str(ti_id).replace("-", "")

    def task_runner() -> psutil.Process | None:
        # The task's own process is titled exactly "airflow worker -- <task instance id>". Its parent, the
        # supervisor ("airflow worker -- LocalExecutor: <id>"), must live on to report the death to Airflow.
        for child in psutil.Process(proc.pid).children(recursive=True):
            with suppress(psutil.Error):
                title = " ".join(child.cmdline()).split()
                if title[:3] == ["airflow", "worker", "--"] and title[3:] and title[3].replace("-", "") == wanted:
                    return child
        return None

    runner = _wait_for("the generate task's process", task_runner, 30.0, proc, log)
    runner.send_signal(signal.SIGKILL)
    emulator.set_faults(rate_slow=0.0)


def test_reference_to_video_survives_a_killed_try_and_defers_to_the_triggerer(tmp_path: Path) -> None:
    import av

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    home, videos, log = tmp_path / "airflow", tmp_path / "videos", tmp_path / "standalone.log"
    home.mkdir()
    db = home / "airflow.db"
    with EvoLinkEmulator(processing_seconds=PROCESSING_SECONDS) as emulator:
        env = _airflow_env(home, emulator.base_url, emulator.api_key)
        started = time.monotonic()
        with _standalone(env, log) as proc:
            _wait_for(
                f"the DAG processor to serialize {DAG_ID}",
                lambda: _query(db, "SELECT 1 FROM serialized_dag WHERE dag_id = ?", DAG_ID),
                STARTUP_TIMEOUT,
                proc,
                log,
            )
            print(f"{time.monotonic() - started:5.1f} s  {DAG_ID} serialized")
            conf = {"duration": DURATION, "aspect_ratio": "1:1", "destination": videos.as_uri()}
            emulator.set_faults(rate_slow=1.0, slow_seconds=POST_HOLD_SECONDS)  # until the kill
            # A run triggered while paused waits queued, so the two commands need no order.
            _cli(
                env,
                ["dags", "unpause", DAG_ID],
                ["dags", "trigger", DAG_ID, "--run-id", RUN_ID, "--conf", json.dumps(conf)],
            )

            print(f"{time.monotonic() - started:5.1f} s  triggered")
            _kill_generate_during_its_post(emulator, db, proc, log)
            print(f"{time.monotonic() - started:5.1f} s  generate killed during its POST")
            sensor_states: list[str] = []

            def run_finished() -> str | None:
                rows = _query(
                    db,
                    "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'wait'",
                    DAG_ID,
                    RUN_ID,
                )
                if rows and rows[0][0] and (not sensor_states or sensor_states[-1] != rows[0][0]):
                    sensor_states.append(rows[0][0])
                run = _query(db, "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", DAG_ID, RUN_ID)
                return run[0][0] if run and run[0][0] in ("success", "failed") else None

            state = _wait_for(f"run {RUN_ID} to finish", run_finished, RUN_TIMEOUT, proc, log)
            print(f"{time.monotonic() - started:5.1f} s  run {state}; sensor states {sensor_states}")
            task_states = dict(
                _query(db, "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", DAG_ID, RUN_ID)
            )

        assert state == "success", f"run ended {state}; tasks {task_states}\n{_tail(log)}"
        assert task_states == {"build_request": "success", "generate": "success", "wait": "success", "save": "success"}
        # The wait ran in the triggerer: the sensor was seen deferred, and the triggerer wrote its trigger log.
        assert "deferred" in sensor_states, f"the sensor never deferred: {sensor_states}"
        wait_logs = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={RUN_ID}" / "task_id=wait"
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
        [(tries,)] = _query(
            db,
            "SELECT try_number FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = 'generate'",
            DAG_ID,
            RUN_ID,
        )
        assert tries == 2

    (video,) = videos.rglob("*.mp4")
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (container.duration or 0) / av.time_base == pytest.approx(DURATION, abs=0.25)
        assert stream.width == stream.height  # 1:1
