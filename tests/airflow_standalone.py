"""
Pytest plugin (loaded by the root conftest): a real Airflow 3.3 in a throw-away ``AIRFLOW_HOME`` on the session's
PostgreSQL (tests/servers.py; a database of its own per Airflow), for the end-to-end, browser and production tests.

Other test runs (and other people's Airflow) may run on the same machine at the same time, so every port Airflow
opens is a free one picked here: the API server (UI, REST and execution API), the scheduler's, the workers' and the
triggerer's log servers, and the scheduler's health check. ``example_dags/`` is the DAGs folder.

:class:`Airflow` runs ``airflow standalone`` (scheduler, DAG processor, triggerer and API server in one command,
LocalExecutor) or separate components, one command each (``tests/production``: CeleryExecutor, two triggerers).

Fixtures: ``airflow_database`` (``new() -> URL``: an empty metadata DB on the session's PostgreSQL) and
``airflow_standalone`` (``start(home, **env) -> Airflow``: standalone started and ready to serve). Every Airflow
started through the latter is stopped (with all its process groups) at the end of the session.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest
from servers import PostgresCluster, free_port

from airflow_provider_evolink.compat import AIRFLOW_V_3_4_PLUS

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = Path(sys.executable).with_name("airflow")
#: Generous ceilings for a loaded machine: on an idle 2-core one standalone serves the UI in about 20 s.
STARTUP_TIMEOUT = 240.0
RUN_TIMEOUT = 240.0
STANDALONE = {"standalone": ["standalone"]}
#: ``(task_id, state)`` of the latest try of each task instance of one run, ordered by map index: keyed by whether
#: this is Airflow 3.4+, which keeps every try as a row and renamed the ``map_index`` column ``region_index``.
_LATEST_TRIES_SQL = {
    False: "SELECT DISTINCT ON (task_id, map_index) task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?"
    " ORDER BY task_id, map_index, try_number DESC",
    True: "SELECT DISTINCT ON (task_id, region_index) task_id, state FROM task_instance WHERE dag_id = ?"
    " AND run_id = ? ORDER BY task_id, region_index, try_number DESC",
}
#: Names the metadata databases: one per Airflow, all on the session's PostgreSQL cluster.
_DATABASES = itertools.count(1)

T = TypeVar("T")


class Airflow:
    """
    One real Airflow: its ``components`` (name → ``airflow`` arguments), each started as a process group of its own
    with its output in ``<home>/<name>.log``, and what tests need from it.

    :param home: the ``AIRFLOW_HOME`` folder (created).
    :param database_url: the SQLAlchemy URL (psycopg2) of its metadata DB; the API server's async engine derives
        its ``postgresql+asyncpg://`` URL from it.
    :param components: what runs; ``airflow standalone`` alone by default.
    :param env: extra environment variables (``AIRFLOW__…`` settings, ``AIRFLOW_CONN_…``); they win over the
        defaults here. The caller's own ``AIRFLOW_*`` variables are never passed on.
    """

    def __init__(
        self, home: Path, database_url: str, components: dict[str, list[str]] | None = None, **env: str
    ) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.components = components or STANDALONE
        #: The first component's output (standalone's: every component's).
        self.log = home / f"{next(iter(self.components))}.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = self._environment(env)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._tokens: dict[str, str] = {}

    def _environment(self, overrides: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
        env.update(
            {
                "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",  # standalone runs `airflow` by name
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                # Parse once at start, not every 30 s: the CPU goes to the runs (2 cores).
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                # Every other port a component may open defaults to a fixed number: never collide with another run.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            }
        )
        env.update(overrides)
        return env

    # ------------------------------------------------------------------ life cycle
    def start(self, *names: str, timeout: float = STARTUP_TIMEOUT) -> Airflow:
        """Start the components ``names`` (all by default) and wait until the API server answers its health
        check."""
        for name in names or self.components:
            self.launch(name)
        self.wait_for("the API server", self._healthy, timeout)
        return self

    def launch(self, name: str, **env: str) -> None:
        """Start component ``name`` in a process group of its own, ``env`` added to its environment; no wait."""
        with (self.home / f"{name}.log").open("ab") as out:  # a restarted component appends
            self._procs[name] = subprocess.Popen(
                [str(AIRFLOW), *self.components[name]],
                env=self.env | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> float:
        """SIGKILL component ``name`` and everything it started, as a lost machine would; returns when it happened
        (``time.time()``, the emulator's clock)."""
        killed_at = time.time()
        _end_tree(self._procs.pop(name), [(signal.SIGKILL, 10.0)])
        return killed_at

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, every process group of every component's tree (nothing is left behind)."""
        while self._procs:
            _end_tree(self._procs.popitem()[1], [(signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)])

    def descendants(self) -> list[psutil.Process]:
        """Every live process the components started (supervisors, task runners, pools)."""
        found = []
        for proc in self._procs.values():
            with suppress(psutil.Error):
                found += psutil.Process(proc.pid).children(recursive=True)
        return found

    # ------------------------------------------------------------------ waiting
    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float) -> T:
        """Call ``check`` every 0.5 s until it returns something truthy; fail with the logs' tails on a timeout
        or if a component exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    pytest.fail(f"airflow {name} exited ({proc.returncode}) while waiting for {what}:\n{self.tail()}")
            if result := check():
                return result
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.tail()}")

    def wait_for_dag(self, dag_id: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until the DAG processor has serialized ``dag_id`` (the UI and the scheduler can see it)."""
        self.wait_for(
            f"the DAG processor to serialize {dag_id}",
            lambda: self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", dag_id),
            timeout,
        )

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str | None = None,
        timeout: float = RUN_TIMEOUT,
        on_poll: Callable[[], None] = lambda: None,
    ) -> tuple[str, str]:
        """Wait until a run of ``dag_id`` (``run_id``, or its latest run) ends; returns ``(run_id, state)``.

        :param on_poll: called on every check, e.g. to record task states as they pass.
        """

        def finished() -> tuple[str, str] | None:
            on_poll()
            sql = "SELECT run_id, state FROM dag_run WHERE dag_id = ?"
            args: tuple[Any, ...] = (dag_id,)
            if run_id is not None:
                sql, args = sql + " AND run_id = ?", (dag_id, run_id)
            rows = self.query(sql + " ORDER BY id DESC LIMIT 1", *args)
            return (rows[0][0], rows[0][1]) if rows and rows[0][1] in ("success", "failed") else None

        return self.wait_for(f"a run of {dag_id} to finish", finished, timeout)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``{task_id: state}`` of one run, each task instance's latest try (mapped tasks: the state of their last
        map index). From Airflow 3.4 every try is a ``task_instance`` row of its own (before it, only the latest
        is), and the map index column is ``region_index``."""
        return dict(self.query(_LATEST_TRIES_SQL[AIRFLOW_V_3_4_PLUS], dag_id, run_id))

    # ------------------------------------------------------------------ reading and driving it
    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the metadata DB while Airflow writes it (``?`` placeholders); ``[]`` while it is not migrated yet."""
        import psycopg2

        try:
            with closing(psycopg2.connect(_libpq_dsn(self.database_url), connect_timeout=5)) as conn:
                conn.autocommit = True  # each read sees what is committed now
                with conn.cursor() as cursor:
                    cursor.execute(sql.replace("?", "%s"), args)
                    return cursor.fetchall()
        except psycopg2.errors.UndefinedTable:
            return []

    def cli(self, *commands: list[str]) -> list[str]:
        """Run ``airflow`` CLI commands side by side (each pays Airflow's start-up cost), require success, and
        return their outputs."""
        procs = [
            subprocess.Popen(
                [str(AIRFLOW), *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for args in commands
        ]
        outputs = []
        for args, proc in zip(commands, procs, strict=True):
            try:
                output, _ = proc.communicate(timeout=120)
            finally:
                proc.kill()  # no-op once it exited; ends a hung CLI on timeout
            assert proc.returncode == 0, f"airflow {' '.join(args)} failed:\n{output}"
            outputs.append(output)
        return outputs

    def password(self, user: str = "admin") -> str:
        """The simple auth manager's generated password of ``user``."""
        path = self.home / "simple_auth_manager_passwords.json.generated"
        self.wait_for(f"the generated passwords in {path.name}", path.exists, 60)
        return str(json.loads(path.read_text())[user])

    def api(self, method: str, path: str, *, user: str = "admin", **kwargs: Any) -> httpx.Response:
        """One REST call (``path`` under the base URL, e.g. ``/api/v2/dags``) with ``user``'s bearer token."""
        if user not in self._tokens:
            if self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "").lower() == "true":
                answer = httpx.get(f"{self.base_url}/auth/token", timeout=30)
            else:
                credentials = {"username": user, "password": self.password(user)}
                answer = httpx.post(f"{self.base_url}/auth/token", json=credentials, timeout=30)
            answer.raise_for_status()
            self._tokens[user] = answer.json()["access_token"]
        headers = {"Authorization": f"Bearer {self._tokens[user]}"} | kwargs.pop("headers", {})
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def tail(self, lines: int = 80) -> str:
        """The last ``lines`` of each component's output."""
        tails = []
        for name in self.components:
            log = self.home / f"{name}.log"
            if log.exists():
                text = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                tails.append(f"--- airflow {name} ({log}):\n{text}")
        return "\n".join(tails) or "(no log)"


def _libpq_dsn(url: str) -> str:
    """``postgresql+psycopg2://…`` (SQLAlchemy) → ``postgresql://…`` (libpq)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _end_tree(proc: subprocess.Popen[bytes], signals: Iterable[tuple[signal.Signals, float]]) -> None:
    """Send each signal in turn to every process group of ``proc``'s tree, until the whole tree is gone.

    Airflow puts some children (task runners, the triggerer's runner) in groups of their own: those groups are
    collected from the live tree before each signal, so nothing is left behind.
    """
    groups: set[int] = {proc.pid}
    family: dict[int, psutil.Process] = {}
    for sig, grace in signals:
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


@pytest.fixture(scope="session")
def airflow_database(postgres: PostgresCluster) -> Callable[[], str]:
    """``new() -> URL``: a new, empty database on the session's PostgreSQL, for one Airflow's metadata."""
    return lambda: postgres.create_database(f"airflow_{next(_DATABASES)}")


@pytest.fixture(scope="session")
def airflow_standalone(airflow_database: Callable[[], str]) -> Iterator[Callable[..., Airflow]]:
    """``start(home, **env)``: ``airflow standalone`` in ``home`` on a database of its own, started; all stopped at
    session end."""
    started: list[Airflow] = []

    def start(home: Path, **env: str) -> Airflow:
        airflow = Airflow(home, airflow_database(), **env)
        started.append(airflow)
        return airflow.start()

    yield start
    for airflow in started:
        airflow.stop()
