"""
When a deferrable wait must end: the earlier of the wait's own ``timeout`` and what ``execution_timeout`` leaves.

Airflow runs ``execute`` under ``execution_timeout`` (a synchronous wait is cut by it), but a deferred task waits in
the triggerer, where the only limit is the ``timeout`` given to ``defer()``: Airflow leaves deferral timeouts to the
operator. So :class:`WaitDeadline` gives the trigger the earlier of the two deadlines, and the task resumed by a
``timeout`` event at the ``execution_timeout`` deadline fails as Airflow's own timeout does
(:class:`~airflow.sdk.exceptions.AirflowTaskTimeout`, retries allowed:
:meth:`~airflow_provider_evolink.triggers.evolink.EvoLinkTaskEvent.raise_if_execution_timed_out`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from airflow_provider_evolink.triggers.events import DEFER_BACKSTOP_SECONDS, DeadlineFrom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

__all__ = ["WaitDeadline"]


@dataclass(frozen=True)
class WaitDeadline:
    """The absolute deadline of a deferred wait.

    :param end_time: epoch seconds (wall clock), what :class:`EvoLinkTaskTrigger` stops at.
    :param seconds: how long the wait may last from when the deadline was computed.
    :param source: the limit that set it, ``"timeout"`` or ``"execution_timeout"`` (when that ends the wait first).
    """

    end_time: float
    seconds: float
    source: DeadlineFrom

    @classmethod
    def of(cls, task: BaseOperator, timeout: float, context: Context) -> WaitDeadline:
        """The deadline of a wait starting now: ``timeout`` seconds from now, or the task's start
        (``context["ti"].start_date``, the start of this try) plus ``execution_timeout`` if that is earlier."""
        now = time.time()
        if task.execution_timeout is None:
            return cls(now + timeout, timeout, "timeout")
        left = context["ti"].start_date.timestamp() + task.execution_timeout.total_seconds() - now
        seconds = max(0.0, min(timeout, left))
        return cls(now + seconds, seconds, "execution_timeout" if left < timeout else "timeout")

    @property
    def defer_timeout(self) -> timedelta:
        """``defer(timeout=)``: the deadline plus :data:`DEFER_BACKSTOP_SECONDS` (the trigger ends the wait
        itself, with a last read at the deadline; the backstop only catches a lost trigger)."""
        return timedelta(seconds=self.seconds + DEFER_BACKSTOP_SECONDS)
