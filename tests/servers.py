"""
Pytest plugin (loaded by the root conftest): throw-away PostgreSQL and Redis servers for the real-Airflow tests.

Both come from Debian's packages (``postgresql``, ``redis-server``; ``make test`` installs them when it runs as root)
and live in a temporary folder of their own, listening on a free loopback port (PostgreSQL also on a Unix socket in
that folder), with durability off: they hold nothing worth an fsync. Each is started on first use and stopped, its
folder removed, at the end of the session.

Without the binaries the tests that need them are skipped with the reason; with ``EVOLINK_REQUIRE_SERVERS=1`` (set
by CI, ``.ci/run``) they fail instead.

Fixtures: ``postgres`` (:class:`PostgresCluster`: ``create_database() -> URL``) and ``redis_url``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import pytest

#: Seconds a server gets to come up (a loaded 2-core machine included) and to shut down before SIGKILL.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: Airflow's components each keep a pool (5 + 10 overflow by default); the Celery test runs seven of them.
MAX_CONNECTIONS = 400


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_missing(reason: str) -> None:
    """Skip the test with ``reason``, or fail it when ``EVOLINK_REQUIRE_SERVERS=1`` (CI)."""
    if os.environ.get("EVOLINK_REQUIRE_SERVERS") == "1":
        pytest.fail(f"EVOLINK_REQUIRE_SERVERS=1 but {reason}")
    pytest.skip(reason)


class _Server:
    """One server process in its own process group, in ``folder`` (removed when it stops)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], **popen: Any) -> None:
        with (self.folder / "server.log").open("wb") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen)

    def _wait_ready(self, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"{what} exited ({self._proc.returncode}):\n{self.log_tail()}")
            if self._accepts():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not listen within {READY_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def _accepts(self) -> bool:
        """Whether the server takes a connection now."""
        with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def log_tail(self, lines: int = 30) -> str:
        log = self.folder / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"

    def stop(self, first: signal.Signals = signal.SIGTERM) -> None:
        """``first`` (each server's fast, clean shutdown), SIGKILL to the whole group after a grace, then the
        folder is removed."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for sig, grace in ((first, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(grace)
                    break
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresCluster(_Server):
    """A PostgreSQL cluster made by ``initdb`` in a temporary folder, started on a free loopback port.

    ``initdb`` and ``postgres`` refuse to run as root, so as root both run as the ``postgres`` user Debian's package
    creates (the folder is handed to it); otherwise as the current user. Clients connect as ``postgres`` without a
    password (trust: only this machine's loopback and the folder's socket reach it).
    """

    def __init__(self, bin_dir: Path) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="evolink-postgres-")))
        self.bin_dir = bin_dir
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    def start(self) -> PostgresCluster:
        data = self.folder / "data"
        initdb = [self.bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--locale=C", "--no-sync"]
        subprocess.run(
            [*initdb, "-E", "UTF8"],
            check=True,
            capture_output=True,
            cwd=self.folder,
            **self._user,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.folder,
            "max_connections": MAX_CONNECTIONS,
            "fsync": "off",  # throw-away data: no crash safety needed, and the disk is shared
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        self._spawn([str(self.bin_dir / "postgres"), "-D", str(data), *options], cwd=self.folder, **self._user)
        self._wait_ready("PostgreSQL")
        return self

    def _accepts(self) -> bool:
        """Whether a client can log in (listening is not enough: a starting cluster refuses logins)."""
        import psycopg2

        with suppress(psycopg2.Error), closing(self.connect()):
            return True
        return False

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg2 connection to ``database`` as ``postgres``."""
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, connect_timeout=5)

    def stop(self, first: signal.Signals = signal.SIGINT) -> None:  # SIGINT: PostgreSQL's "fast" shutdown
        super().stop(first)

    def url(self, database: str = "postgres", driver: str = "psycopg2") -> str:
        """The SQLAlchemy URL of ``database`` (``driver``: ``psycopg2`` or ``asyncpg``)."""
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` (a SQL identifier) and return its psycopg2 URL."""
        with closing(self.connect()) as conn:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class RedisServer(_Server):
    """A ``redis-server`` on a free loopback port, nothing persisted."""

    def start(self) -> RedisServer:
        redis = shutil.which("redis-server")
        assert redis is not None
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._spawn([redis, *args, "--dir", str(self.folder)], cwd=self.folder)
        self._wait_ready("redis-server")
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _postgres_bin_dir() -> Path | None:
    """The newest of Debian's ``/usr/lib/postgresql/<version>/bin`` (its binaries are not on ``PATH``), or the
    folder of an ``initdb`` on ``PATH``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """The session's throw-away PostgreSQL cluster (each real Airflow gets a database of its own)."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        server_missing("PostgreSQL is missing: install Debian's `postgresql` (`make test` does it when run as root)")
    if missing := [module for module in ("psycopg2", "asyncpg") if importlib.util.find_spec(module) is None]:
        server_missing(f"{' and '.join(missing)} not installed: `make venv` installs the dev extra")
    assert bin_dir is not None
    cluster = PostgresCluster(bin_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://…`` of the session's throw-away ``redis-server`` (the Celery broker)."""
    if shutil.which("redis-server") is None:
        server_missing(
            "redis-server is missing: install Debian's `redis-server` (`make test` does it when run as root)"
        )
    server = RedisServer(Path(tempfile.mkdtemp(prefix="evolink-redis-")))
    try:
        yield server.start().url
    finally:
        server.stop()
