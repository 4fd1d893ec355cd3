"""Test-session setup: a throw-away AIRFLOW_HOME with SQLite, set before anything imports Airflow."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="evolink-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ.pop("EVOLINK_API_KEY", None)


def connection_json(base_url: str, api_key: str, **extra: object) -> str:
    """The ``AIRFLOW_CONN_<ID>`` JSON form of an EvoLink connection."""
    return json.dumps({"conn_type": "evolink", "host": base_url, "password": api_key, "extra": extra})


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    """One EvoLink emulator for the session (instant processing), reachable as ``evolink_default``."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0) as emu:
        os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = connection_json(emu.base_url, emu.api_key, max_retries=2)
        yield emu
        os.environ.pop("AIRFLOW_CONN_EVOLINK_DEFAULT", None)
