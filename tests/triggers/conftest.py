"""Fixtures of the trigger tests: a scripted stand-in for ``EvoLinkHook.aget_task``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import TaskDetail


@pytest.fixture
def scripted_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Replace ``aget_task`` by a script: each read returns the next detail dict or raises the next exception.

    Returns the list of task IDs read, so a test can count the reads. The last step repeats forever. A test that set
    no ``evolink_default`` connection gets one that nothing listens on (the trigger reads its settings, e.g.
    ``batch_reads``, before each read).
    """
    if "AIRFLOW_CONN_EVOLINK_DEFAULT" not in os.environ:
        monkeypatch.setenv(
            "AIRFLOW_CONN_EVOLINK_DEFAULT",
            json.dumps({"conn_type": "evolink", "host": "http://127.0.0.1:9", "password": "sk-scripted"}),
        )

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
