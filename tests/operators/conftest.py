"""Fixtures of the operator tests: an in-memory task_state_store and task instance."""

from __future__ import annotations

import json
from collections.abc import Callable
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
        self.sets.append((key, self._observe()))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def clear(self) -> None:
        self.values.clear()
        self.cleared += 1


class FakeTaskInstance:
    """The ``ti`` of a context: records ``xcom_push``; ``crash_on_push`` names a key whose push raises once."""

    def __init__(self, *, crash_on_push: str | None = None) -> None:
        self.xcoms: dict[str, Any] = {}
        self._crash_on_push = crash_on_push

    def xcom_push(self, key: str, value: Any) -> None:
        if key == self._crash_on_push:
            self._crash_on_push = None
            raise SimulatedCrash(f"worker died while pushing {key}")
        self.xcoms[key] = value


def context_of(ti: FakeTaskInstance, store: FakeTaskStateStore | None) -> dict[str, Any]:
    """A task context with the keys the operator reads (no ``task_state_store`` when ``store`` is None)."""
    return {"ti": ti} if store is None else {"ti": ti, "task_state_store": store}
