"""Fixtures of the trigger tests: a slow emulator, and a scripted stand-in for ``EvoLinkHook.aget_task``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import TaskDetail


def env_connection(base_url: str, api_key: str) -> str:
    """An ``AIRFLOW_CONN_<ID>`` value for an EvoLink connection without client retries (errors surface at once)."""
    return Connection(
        conn_id="unused", conn_type="evolink", host=base_url, password=api_key, extra=json.dumps({"max_retries": 0})
    ).as_json()


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[Any]:
    """An emulator whose tasks stay processing for a minute: long past any deadline a test sets."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=60.0) as emu:
        yield emu


@pytest.fixture
def slow_conn_id(slow_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_EVOLINK_SLOW", env_connection(slow_emulator.base_url, slow_emulator.api_key))
    return "evolink_slow"


@pytest.fixture
def scripted_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Replace ``aget_task`` by a script: each read returns the next detail dict or raises the next exception.

    Returns the list of task IDs read, so a test can count the reads. The last step repeats forever.
    """

    def install(*steps: dict[str, Any] | BaseException) -> list[str]:
        reads: list[str] = []

        async def aget_task(self: EvoLinkHook, evolink_task_id: str) -> TaskDetail:
            step = steps[min(len(reads), len(steps) - 1)]
            reads.append(evolink_task_id)
            if isinstance(step, BaseException):
                raise step
            return TaskDetail.model_validate({"id": evolink_task_id, **step})

        monkeypatch.setattr(EvoLinkHook, "aget_task", aget_task)
        return reads

    return install
