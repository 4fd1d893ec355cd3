"""Stand-ins shared by the tests and the soak harness: an in-memory ``task_state_store``, a task instance that
records XComs, and a virtual clock for the provider's waits (fixture ``virtual_time`` in ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class SimulatedCrash(Exception):
    """Stands for the worker dying at this point of a try."""


class FakeTaskStateStore:
    """``context["task_state_store"]`` in memory: ``get``/``set``/``delete``/``clear`` of one task instance.

    Values go through JSON like the real store. ``crash_on_set`` names keys whose first ``set`` raises
    :class:`SimulatedCrash` before storing. ``observe`` is called at every ``set`` and its result recorded in
    ``sets`` next to the key, so a test can tell what had happened (e.g. how many POSTs) when a key was stored.
    """

    def __init__(self, *, crash_on_set: tuple[str, ...] = (), observe: Callable[[], Any] = lambda: None) -> None:
        self.values: dict[str, Any] = {}
        self.sets: list[tuple[str, Any]] = []
        self.written: list[tuple[str, Any]] = []  # every (key, value) ever set, in order
        self.cleared = 0
        self._crash_on_set = set(crash_on_set)
        self._observe = observe

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if key in self._crash_on_set:
            self._crash_on_set.discard(key)
            raise SimulatedCrash(f"worker died before storing {key}")
        self.values[key] = json.loads(json.dumps(value))
        self.written.append((key, self.values[key]))
        self.sets.append((key, self._observe()))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def clear(self) -> None:
        self.values.clear()
        self.cleared += 1


class FakeTaskInstance:
    """The ``ti`` of a context: records ``xcom_push``; ``crash_on_push`` names a key whose push raises once.
    ``max_tries`` is what Airflow sets: ``retries`` for a new task instance, raised by a Clear; ``try_number``
    counts the tries (1 for the first). ``dag_id``, ``run_id``, ``task_id`` and ``map_index`` name the task instance;
    ``start_date`` is when this try started (default: now)."""

    def __init__(
        self,
        *,
        crash_on_push: str | None = None,
        max_tries: int = 0,
        try_number: int = 1,
        task_id: str = "task",
        run_id: str = "manual__test",
        dag_id: str = "test_dag",
        map_index: int = -1,
        start_date: datetime | None = None,
    ) -> None:
        self.xcoms: dict[str, Any] = {}
        self.start_date = start_date or datetime.now(UTC)
        self.max_tries, self.try_number = max_tries, try_number
        self.dag_id, self.run_id, self.task_id, self.map_index = dag_id, run_id, task_id, map_index
        self._crash_on_push = crash_on_push

    def xcom_push(self, key: str, value: Any) -> None:
        if key == self._crash_on_push:
            self._crash_on_push = None
            raise SimulatedCrash(f"worker died while pushing {key}")
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", map_indexes: int | None = None) -> Any:
        """What this task instance pushed under ``key`` (``task_ids`` and ``map_indexes`` must be its own)."""
        assert task_ids in (None, self.task_id), "the fake only holds its own task's XComs"
        assert map_indexes in (None, self.map_index), "the fake only holds its own map index's XComs"
        return self.xcoms.get(key)


def context_of(ti: FakeTaskInstance, store: FakeTaskStateStore | None) -> dict[str, Any]:
    """A task context with the keys the operator reads (no ``task_state_store`` when ``store`` is None)."""
    return {"ti": ti} if store is None else {"ti": ti, "task_state_store": store}


_real_asyncio_sleep = asyncio.sleep


class VirtualTime:
    """The provider's clock and waits (``airflow_provider_evolink.retry``: ``monotonic``, ``sleep``, ``asleep``) on
    virtual time: a wait advances the clock at once, so a test lives through a ten-minute outage in a second.

    ``at(seconds, action)`` runs ``action`` once the clock reaches ``seconds`` (e.g. to end an emulator's storm);
    ``waits`` lists every wait asked for, in seconds.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self._actions: list[tuple[float, Callable[[], object]]] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(0.0, seconds)
        due = [action for when, action in self._actions if when <= self.now]
        self._actions = [(when, action) for when, action in self._actions if when > self.now]
        for action in due:
            action()

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await _real_asyncio_sleep(0)  # still let other coroutines run

    def at(self, seconds: float, action: Callable[[], object]) -> None:
        self._actions.append((seconds, action))
