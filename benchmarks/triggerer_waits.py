"""A real ``airflow triggerer`` holding 500 deferred EvoLink waits at once against the emulator (issue 30).

How the 500 waits come to be deferred: one run of a DAG with one mapped :class:`EvoLinkGenerateVideoOperator` (500
map indexes), whose instances are deferred directly in the metadata DB, each as the operator defers after
submitting: the EvoLink task is submitted here (``POST /v1/videos/generations`` to the emulator), and the instance
gets the operator's :class:`EvoLinkTaskTrigger` as a ``trigger`` row, state ``deferred``, ``next_method``
``execute_complete``. Letting workers submit and defer them instead costs two task runs per wait (submit, then
resume): some 1,000 task runs on a 2-core machine, several minutes in which the first waits end before the last
ones defer unless renders last longer still. What is measured is unchanged: the real ``airflow triggerer`` (its
supervisor and trigger runner, Airflow's defaults: capacity 1,000, 50 triggers picked per loop) loads the rows, runs
every wait in its one event loop, and writes each event back (the instance turns ``scheduled``). No scheduler or
worker runs, so the instances are not resumed: a wait is done when its event is in the DB.

Pieces reused from the tests: the throw-away PostgreSQL (``tests/servers.py``) and the :class:`Airflow` runner on
free ports (``tests/airflow_standalone.py``), here with one component, ``airflow triggerer``. The emulator runs in
this process. Renders take ``--processing-seconds`` × e^N(0, ``--spread``) with an accurate ``estimated_time``, and
``poll_interval`` is ``--poll-interval``: at the defaults (60 s, 1.6 s) a Kling render of ~300 s polled every 8 s,
time-scaled by 0.2.

Printed, each beside its target (issue 30): events (every wait must end ``success``), the most waits held deferred
at once, HTTP requests per generation (``POST /v1/tasks/batch`` plus ``GET /v1/tasks/{id}``: what EvoLink's rate
limit counts; target <= 1.0 at >= 50 concurrent waits), task reads per generation (each task a batch call read
counts), and the triggerer's loop lag as Airflow measures it: its watchdog sleeps 0.1 s in the trigger runner's
event loop and logs "Triggerer's async thread was blocked for X seconds" when X exceeds ``[triggerer]
blocked_main_thread_warning_threshold`` (Airflow 3.2+), set here to ``--lag-threshold``; lag = X - 0.1, at the log's
10 ms resolution, over the watchdog ticks from the first read to the last event (about one per 0.1 s; ticks not
logged lagged less than the threshold). Needs Airflow 3.3 (the DB calls of the seeding step).

    python benchmarks/triggerer_waits.py [--waits 500] [--processing-seconds 60] [--poll-interval 1.6]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # the test suite's PostgreSQL and Airflow runners, as the suite imports them

DAG_ID = "evolink_triggerer_waits"
CONN_ID = "evolink_default"
REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a paper boat on a pond", "duration": 5}
#: The DAG the instances belong to (written into the run's DAGs folder): one mapped generate of ``{waits}`` indexes.
DAG_FILE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    EvoLinkGenerateVideoOperator.partial(
        task_id="generate", wait_for_completion=True, deferrable=True, poll_interval={poll_interval!r}
    ).expand(request=[{request!r} | {{"prompt": f"take {{index}}"}} for index in range({waits})])
"""
#: Seconds the watchdog of Airflow's trigger runner sleeps between checks (``block_watchdog``).
WATCHDOG_SLEEP = 0.1
BLOCKED = re.compile(r"^(\S+) .*async thread was blocked for (\d+\.\d+) seconds", re.MULTILINE)
TARGET_REQUESTS_PER_GENERATION = 1.0
TARGET_LAG_P99_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=500, help="deferred waits held at once")
    parser.add_argument("--processing-seconds", type=float, default=60.0, help="median render time, seconds")
    parser.add_argument("--spread", type=float, default=0.25, help="log-normal spread of render times")
    parser.add_argument("--poll-interval", type=float, default=1.6, help="the operator's poll_interval, seconds")
    parser.add_argument("--lag-threshold", type=float, default=0.105, help="watchdog log threshold, seconds")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--seed-run", action="store_true", help=argparse.SUPPRESS)  # the child's step, see _seed
    args = parser.parse_args()
    if args.seed_run:
        _seed(args)
    else:
        _benchmark(args)


def _benchmark(args: argparse.Namespace) -> None:
    from airflow_standalone import Airflow
    from cryptography.fernet import Fernet
    from servers import PostgresCluster, _postgres_bin_dir

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is missing: install Debian's postgresql")
    home = Path(tempfile.mkdtemp(prefix="evolink-triggerer-waits-"))
    dags = home / "dags"
    dags.mkdir()
    dag = DAG_FILE.format(dag_id=DAG_ID, poll_interval=args.poll_interval, request=REQUEST, waits=args.waits)
    (dags / f"{DAG_ID}.py").write_text(dag)
    postgres = PostgresCluster(bin_dir).start()
    emulator = EvoLinkEmulator(
        processing_seconds=args.processing_seconds, processing_spread=args.spread, fetch_inputs=False, seed=30
    )
    try:
        with emulator:
            connection = {"conn_type": "evolink", "host": emulator.base_url, "password": emulator.api_key}
            airflow = Airflow(
                home / "airflow",
                postgres.create_database("airflow_waits"),
                components={"triggerer": ["triggerer"]},
                AIRFLOW__CORE__DAGS_FOLDER=str(dags),
                AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
                AIRFLOW__TRIGGERER__BLOCKED_MAIN_THREAD_WARNING_THRESHOLD=str(args.lag_threshold),
                AIRFLOW_CONN_EVOLINK_DEFAULT=json.dumps(connection),
            )
            try:
                _run(args, airflow, emulator)
            finally:
                airflow.stop()
    finally:
        postgres.stop()
        shutil.rmtree(home, ignore_errors=True)


def _run(args: argparse.Namespace, airflow: Any, emulator: Any) -> None:
    began = time.monotonic()
    airflow.cli(["db", "migrate"])
    airflow.cli(["dags", "reserialize"])
    print(f"{time.monotonic() - began:6.1f} s  metadata DB migrated, {DAG_ID} serialized")
    seeded = subprocess.run(
        [sys.executable, __file__, "--seed-run", *sys.argv[1:]], env=airflow.env, capture_output=True, text=True
    )
    if seeded.returncode != 0:
        sys.exit(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr}")
    print(f"{time.monotonic() - began:6.1f} s  {args.waits} EvoLink tasks submitted, {args.waits} instances deferred")
    emulator.clear_requests()
    launched = time.time()
    airflow.launch("triggerer")
    held = [0]

    def all_fired() -> bool:
        rows = dict(airflow.query("SELECT state, count(*) FROM task_instance WHERE dag_id = ? GROUP BY state", DAG_ID))
        running = airflow.query(
            "SELECT count(*) FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id"
            " WHERE ti.dag_id = ? AND ti.state = 'deferred' AND t.triggerer_id IS NOT NULL",
            DAG_ID,
        )
        held[0] = max(held[0], running[0][0] if running else 0)
        return rows.get("deferred", 0) == 0

    airflow.wait_for("every wait's event", all_fired, args.timeout)
    log = emulator.requests()
    # The trigger runner's loop (and its watchdog) runs from about the first read on.
    window = time.time() - min((r["time"] for r in log if r["path"].startswith("/v1/tasks")), default=launched)
    print(
        f"{time.monotonic() - began:6.1f} s  every event written ({time.time() - launched:.1f} s after the triggerer"
        f" started, {window:.1f} s after its first read)"
    )
    _report(args, airflow, log, held[0], window)


def _seed(args: argparse.Namespace) -> None:
    """In a child with the Airflow's environment: submit the EvoLink tasks, then defer every mapped instance of one
    new run to its wait, as the operator would after submitting."""
    from datetime import UTC

    from airflow.models.dagbag import DBDagBag
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    from airflow_provider_evolink.hooks.evolink import EvoLinkHook
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    hook = EvoLinkHook(evolink_conn_id=CONN_ID)
    try:
        tasks = [hook.create_video_generation(REQUEST | {"prompt": f"take {index}"}) for index in range(args.waits)]
    finally:
        hook.close()
    with create_session() as session:
        dag = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
        assert dag is not None, f"{DAG_ID} is not serialized"
        run = dag.create_dagrun(
            run_id="waits",
            run_after=datetime.now(UTC),
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        instances = sorted(run.get_task_instances(session=session), key=lambda ti: ti.map_index)
        assert len(instances) == args.waits, f"{len(instances)} instances, expected {args.waits}"
        for ti, task in zip(instances, tasks, strict=True):
            estimate = task.task_info.estimated_time if task.task_info else None
            trigger = EvoLinkTaskTrigger(
                evolink_task_id=task.id,
                evolink_conn_id=CONN_ID,
                poll_interval=args.poll_interval,
                end_time=time.time() + args.timeout,
                estimated_time=estimate,
            )
            row = Trigger.from_object(trigger)
            session.add(row)
            session.flush()
            ti.state, ti.trigger_id, ti.try_number = TaskInstanceState.DEFERRED, row.id, 1
            ti.next_method, ti.next_kwargs = "execute_complete", None


def _report(args: argparse.Namespace, airflow: Any, log: list[dict[str, Any]], held: int, window: float) -> None:
    waits = args.waits
    statuses = airflow.query("SELECT next_kwargs::text FROM task_instance WHERE dag_id = ?", DAG_ID)
    events = Counter(_event_status(text) for (text,) in statuses)
    batches = [r for r in log if r["method"] == "POST" and r["path"] == "/v1/tasks/batch"]
    singles = [r for r in log if r["method"] == "GET" and r["path"].startswith("/v1/tasks/")]
    carried = sum(len(r["task_id"].split(",")) for r in batches if r["task_id"])
    requests, reads = len(batches) + len(singles), carried + len(singles)
    trigger_log = (airflow.home / "triggerer.log").read_text(errors="replace")
    logged = [
        (datetime.fromisoformat(at).timestamp(), (float(x) - WATCHDOG_SLEEP) * 1000)
        for at, x in BLOCKED.findall(trigger_log)
    ]
    lags = sorted(lag for _, lag in logged)
    # Start-up apart (the runner builds the triggers a few dozen at a time): the lag once every wait had read.
    first_reads = _first_reads(batches, singles).values()
    running = max(first_reads, default=math.inf)
    steady = [lag for at, lag in logged if at >= running]
    ticks = max(len(lags), round(window / WATCHDOG_SLEEP))  # each tick takes >= 0.1 s: at most this many
    rank = ticks - math.ceil(0.99 * ticks)  # ticks above the p99
    p99 = lags[-rank - 1] if rank < len(lags) else None
    below = f"< {(args.lag_threshold - WATCHDOG_SLEEP) * 1000:.0f} (under the log threshold)"
    print()
    print(f"waits: {waits}, render {args.processing_seconds:g} s x e^N(0, {args.spread}), poll {args.poll_interval} s")
    print(f"events: {dict(events)}  target: success={waits}")
    print(f"most waits held deferred at once: {held}  target: {waits}")
    print(f"batch calls: {len(batches)} (statuses {dict(Counter(r['status'] for r in batches))}), carrying {carried}")
    print(f"single reads: {len(singles)}")
    print(f"HTTP requests per generation: {requests / waits:.2f}  target: <= {TARGET_REQUESTS_PER_GENERATION}")
    print(f"task reads per generation: {reads / waits:.2f}  (no target: each task a batch call read counts)")
    print(
        f"triggerer loop lag (Airflow's watchdog, {ticks} ticks, {len(lags)} logged): p99 "
        f"{below if p99 is None else f'{p99:.0f}'} ms, max {lags[-1] if lags else 0:.0f} ms"
        f"  target: p99 < {TARGET_LAG_P99_MS:.0f} ms"
    )
    print(
        f"  once every wait had read its task ({running - min(first_reads, default=running):.1f} s after the first"
        f" read): {len(steady)} ticks logged, max {max(steady, default=0):.0f} ms"
    )


def _first_reads(batches: list[dict[str, Any]], singles: list[dict[str, Any]]) -> dict[str, float]:
    """EvoLink task ID → when (``time.time()``) it was first read, through a batch call or alone."""
    first: dict[str, float] = {}
    for entry in sorted(batches + singles, key=lambda r: r["time"]):
        if entry["path"].endswith("/batch"):
            ids = entry["task_id"].split(",") if entry["task_id"] else []
        else:
            ids = [entry["path"].rsplit("/", 1)[1]]
        for task_id in ids:
            first.setdefault(task_id, entry["time"])
    return first


def _event_status(next_kwargs: str | None) -> str:
    """The ``status`` of the event a wait fired, from its instance's ``next_kwargs`` (JSON text), or ``none``."""
    found = re.search(r'"status"\s*:\s*"(\w+)"', next_kwargs or "")
    return found.group(1) if found else "none"


if __name__ == "__main__":
    main()
