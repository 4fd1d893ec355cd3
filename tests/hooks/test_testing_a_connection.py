"""
What a user sees when testing an EvoLink connection, over real HTTP against the emulator: ``test_connection()``
(behind the UI's Test button, the REST test endpoint and ``airflow connections test``) for a good key, a bad key,
an unreachable host and extras the hook refuses; the CLI shows the same message, and so does a task that uses
such a connection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

AIRFLOW = Path(sys.executable).with_name("airflow")
REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a fox", "duration": 5}
BAD_EXTRAS = [
    ({"timeout": -5}, "extra 'timeout' must be a number of seconds > 0, got -5.0"),
    ({"max_retries": 2.5}, "extra 'max_retries' must be a whole number >= 0, got 2.5"),
]


def _closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_a_good_key_reports_the_balance(evolink_connection: Callable[..., str]) -> None:
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    # An emulator of its own: the session's shared one has spent credits on other tests.
    with EvoLinkEmulator(credits=1_234_567.5) as emu:
        conn_id = evolink_connection(emu.base_url, emu.api_key, "evolink_good")

        assert EvoLinkHook(evolink_conn_id=conn_id).test_connection() == (
            True,
            f"Connected to EvoLink at {emu.base_url}: 1,234,567.5 credits remaining",
        )


def test_a_bad_key_says_the_key_was_refused(emulator: Any, evolink_connection: Callable[..., str]) -> None:
    conn_id = evolink_connection(emulator.base_url, "sk-not-this-one", "evolink_bad_key")

    ok, message = EvoLinkHook(evolink_conn_id=conn_id).test_connection()

    assert not ok
    assert message.startswith("EvoLink API error 401")
    assert "sk-not-this-one" not in message


def test_an_unreachable_host_fails_at_once_naming_it(evolink_connection: Callable[..., str]) -> None:
    host = f"http://127.0.0.1:{_closed_port()}"
    conn_id = evolink_connection(host, "sk-emulator", "evolink_unreachable", max_retries=5)
    started = time.monotonic()

    ok, message = EvoLinkHook(evolink_conn_id=conn_id).test_connection()

    assert not ok
    assert host in message
    assert time.monotonic() - started < 10  # no retries: the Test button answers promptly


@pytest.mark.parametrize(("extra", "rule"), BAD_EXTRAS)
def test_extras_the_hook_refuses_fail_the_test_with_the_rule(
    emulator: Any, evolink_connection: Callable[..., str], extra: dict[str, Any], rule: str
) -> None:
    # The 3.3 connection form does not enforce conn-fields schemas: this message is the user's first feedback.
    conn_id = evolink_connection(emulator.base_url, emulator.api_key, "evolink_typo", **extra)

    assert EvoLinkHook(evolink_conn_id=conn_id).test_connection() == (
        False,
        f"EvoLink connection 'evolink_typo': {rule}",
    )


@pytest.mark.parametrize(("extra", "rule"), BAD_EXTRAS)
def test_a_task_using_such_a_connection_fails_once_with_the_same_message(
    emulator: Any, evolink_connection: Callable[..., str], extra: dict[str, Any], rule: str
) -> None:
    conn_id = evolink_connection(emulator.base_url, emulator.api_key, "evolink_typo", **extra)
    before = len(emulator.requests())

    with pytest.raises(AirflowFailException, match=f"EvoLink connection 'evolink_typo': {rule}"):
        EvoLinkGenerateVideoOperator(task_id="generate", request=REQUEST, evolink_conn_id=conn_id).execute({})

    assert len(emulator.requests()) == before  # nothing was sent, nothing was paid


def _airflow_connections_test_of_a_typo(emulator: Any, evolink_connection: Callable[..., str]) -> tuple[str, Any]:
    """``airflow connections test`` of a connection whose ``timeout`` extra is -5: ``(conn_id, the finished run)``."""
    conn_id = evolink_connection(emulator.base_url, emulator.api_key, "evolink_typo", timeout=-5)
    env = {**os.environ, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    run = subprocess.run(
        [str(AIRFLOW), "connections", "test", conn_id], env=env, capture_output=True, text=True, timeout=180
    )
    return conn_id, run


def test_airflow_connections_test_prints_the_hooks_message(
    emulator: Any, evolink_connection: Callable[..., str]
) -> None:
    conn_id, typo = _airflow_connections_test_of_a_typo(emulator, evolink_connection)

    assert f"EvoLink connection '{conn_id}': {BAD_EXTRAS[0][1]}" in typo.stdout


@pytest.mark.airflow_min("3.3.2", reason="`airflow connections test` exits 1 on a failed test from 3.3.2 (before: 0)")
def test_airflow_connections_test_exits_1_when_the_test_fails(
    emulator: Any, evolink_connection: Callable[..., str]
) -> None:
    _, typo = _airflow_connections_test_of_a_typo(emulator, evolink_connection)

    assert typo.returncode == 1
