"""Test-session setup: a throw-away AIRFLOW_HOME with SQLite, set before anything imports Airflow."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="evolink-airflow-home-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ.pop("EVOLINK_API_KEY", None)

#: ``airflow_standalone``: a real Airflow for the end-to-end and browser tests (tests/airflow_standalone.py).
pytest_plugins = ["airflow_standalone"]


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run every wait of the provider on a :class:`VirtualTime` clock."""
    from fakes import VirtualTime

    from airflow_provider_evolink import retry

    clock = VirtualTime()
    monkeypatch.setattr(retry, "monotonic", clock.monotonic)
    monkeypatch.setattr(retry, "sleep", clock.sleep)
    monkeypatch.setattr(retry, "asleep", clock.asleep)
    return clock


def _connection_json(base_url: str | None, api_key: str | None, **extra: object) -> str:
    """The ``AIRFLOW_CONN_<ID>`` JSON form of an EvoLink connection; ``None`` leaves the host or the key out."""
    connection: dict[str, object] = {"conn_type": "evolink", "extra": extra}
    if base_url is not None:
        connection["host"] = base_url
    if api_key is not None:
        connection["password"] = api_key
    return json.dumps(connection)


@pytest.fixture(scope="session")
def evolink_connection_json() -> Callable[..., str]:
    """``_connection_json``, for module- or session-scoped setups that set the variable themselves."""
    return _connection_json


@pytest.fixture
def evolink_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``set_connection(base_url, api_key, conn_id="evolink_default", **extra)``: point ``conn_id`` (an
    ``AIRFLOW_CONN_<ID>`` JSON variable) at ``base_url`` for one test, with ``extra`` as its extras; returns the ID.
    """

    def set_connection(
        base_url: str | None, api_key: str | None, conn_id: str = "evolink_default", **extra: object
    ) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", _connection_json(base_url, api_key, **extra))
        return conn_id

    return set_connection


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    """One EvoLink emulator for the session (instant processing), reachable as ``evolink_default``."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0) as emu:
        os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = _connection_json(emu.base_url, emu.api_key, max_retries=2)
        yield emu
        os.environ.pop("AIRFLOW_CONN_EVOLINK_DEFAULT", None)


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[Any]:
    """An emulator whose tasks stay processing for a minute: long past any deadline a test sets."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=60.0) as emu:
        yield emu


@pytest.fixture
def slow_conn_id(slow_emulator: Any, evolink_connection: Callable[..., str]) -> str:
    """``evolink_slow``: the slow emulator, without client retries (errors surface at once)."""
    return evolink_connection(slow_emulator.base_url, slow_emulator.api_key, "evolink_slow", max_retries=0)


S3_CONN_ID = "aws_moto"
S3_BUCKET = "evolink-results"


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[str]:
    """A bucket on moto's S3 server, reachable as ``s3://aws_moto@evolink-results/...`` through s3fs."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(
            Bucket=S3_BUCKET
        )
        # The amazon provider's s3fs filesystem reads endpoint_url from the connection's extra.
        os.environ[f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "aws",
                "login": credentials["aws_access_key_id"],
                "password": credentials["aws_secret_access_key"],
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        )
        yield S3_BUCKET
    finally:
        os.environ.pop(f"AIRFLOW_CONN_{S3_CONN_ID.upper()}", None)
        server.stop()
