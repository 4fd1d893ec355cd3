"""Fixtures of the trigger tests: a scripted stand-in for ``EvoLinkHook.aget_task``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import TaskDetail


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
