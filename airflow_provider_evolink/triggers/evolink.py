"""
EvoLinkTaskTrigger: wait for an EvoLink task in the triggerer, and the one event contract it fires.

API source: ``GET /v1/tasks/{task_id}``
(``airflow_provider_evolink/api_reference/openapi/get-task-detail.openapi.yaml``); which errors are transient and which
task failures are retryable: ``airflow_provider_evolink/api_reference/evolink-api.md``.

:class:`EvoLinkTaskEvent` is the single place that builds, validates and interprets the event: the trigger
builds it, ``EvoLinkGenerateVideoOperator`` and ``EvoLinkTaskSensor`` parse and raise from it, and their
synchronous waits build the same events from what they read, so every path ends in the same errors.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_evolink import retry
from airflow_provider_evolink.defaults import DEFAULT_POLL_INTERVAL
from airflow_provider_evolink.exceptions import EvoLinkError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.pacing import JITTER, PollPacer
from airflow_provider_evolink.retry import OutageTolerance
from airflow_provider_evolink.triggers.coalescer import paced_read
from airflow_provider_evolink.triggers.events import (
    _DEADLINES_FROM,
    DEFER_BACKSTOP_SECONDS,
    EXECUTION_TIMEOUT,
    DeadlineFrom,
    EvoLinkTaskEvent,
    positive_seconds,
    progress_message,
    progress_step,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFER_BACKSTOP_SECONDS",
    "EXECUTION_TIMEOUT",
    "EvoLinkTaskEvent",
    "EvoLinkTaskTrigger",
    "positive_seconds",
    "progress_message",
    "progress_step",
]


class EvoLinkTaskTrigger(BaseTrigger):
    """
    Poll an EvoLink task from the triggerer until it ends, the deadline passes or polling cannot go on.

    Fully async: the connection comes from ``aget_connection`` and every read goes through the event loop's shared
    client: the waits of one connection hand their due reads to one coalescer, which reads up to 50 tasks per
    ``POST /v1/tasks/batch`` and falls back to ``EvoLinkHook.aget_task`` (``GET /v1/tasks/{task_id}``) where the
    service has no batch read or the connection extra ``batch_reads`` is ``off``
    (:mod:`~airflow_provider_evolink.triggers.coalescer`; a read may come earlier to fill a batch, never later, and
    a read that fell between the batch lines may come half an interval sooner, once, to move onto them).
    Reads are paced by
    :class:`~airflow_provider_evolink.pacing.PollPacer`: the first after a random fraction of the first delay so
    triggers created together spread out; later ones by the task's progress and ``estimated_time``, never more
    often than every ``poll_interval`` (± 10 %), or every ``poll_interval`` ± 10 % with
    ``adaptive_polling=False``. Transient errors (429, 5xx, network, unreadable answers; after the hook's own
    retries) are tolerated for the connection's ``outage_tolerance`` seconds in a row (default in ``defaults.py``,
    bounded by ``end_time``), with backoff that honours ``Retry-After`` and a log line saying how long reads have been
    failing; a non-retryable one (400/401/402/403/404, bad connection) ends the wait at once. Exactly one
    :class:`EvoLinkTaskEvent` is fired; an unexpected exception becomes an ``error`` event instead of crashing
    the trigger.

    :param evolink_task_id: the EvoLink task ID (``task-unified-…``).
    :param evolink_conn_id: the Airflow connection of type ``evolink``.
    :param poll_interval: seconds between status reads when the task may be done, the fastest pace (> 0;
        EvoLink's MCP server uses 8).
    :param end_time: absolute deadline, epoch seconds (wall clock): kept as is across serialisation, so a
        re-created trigger (triggerer restart, another triggerer) keeps the same deadline.
    :param estimated_time: ``task_info.estimated_time`` of the create answer, seconds since the task's creation
        (``None``: unknown; pacing then goes by progress alone).
    :param adaptive_polling: pace reads by progress and ``estimated_time`` (default); ``False``: a read every
        ``poll_interval`` ± 10 %.
    :param deadline_from: the limit that set ``end_time``: ``"timeout"`` (the wait's own) or
        ``"execution_timeout"`` (what the task's ``execution_timeout`` left;
        :class:`~airflow_provider_evolink.deadlines.WaitDeadline`); the ``timeout`` event's ``error_code``.
    :raises ValueError: on a bad argument, naming it.
    """

    def __init__(
        self,
        evolink_task_id: str,
        evolink_conn_id: str,
        poll_interval: float,
        end_time: float,
        estimated_time: float | None = None,
        adaptive_polling: bool = True,
        deadline_from: DeadlineFrom = "timeout",
    ) -> None:
        super().__init__()
        if not isinstance(evolink_task_id, str) or not evolink_task_id.strip():
            raise ValueError(f"evolink_task_id must be a non-empty string, got {evolink_task_id!r}")
        if isinstance(end_time, bool) or not isinstance(end_time, int | float):
            raise ValueError(f"end_time must be a deadline in epoch seconds, got {end_time!r}")
        self.evolink_task_id = evolink_task_id
        self.evolink_conn_id = evolink_conn_id
        self.poll_interval = positive_seconds("poll_interval", poll_interval)
        self.end_time = float(end_time)
        if not isinstance(adaptive_polling, bool):
            raise ValueError(f"adaptive_polling must be True or False, got {adaptive_polling!r}")
        self.estimated_time = None if estimated_time is None else positive_seconds("estimated_time", estimated_time)
        self.adaptive_polling = adaptive_polling
        if deadline_from not in _DEADLINES_FROM:
            raise ValueError(f"deadline_from must be one of {sorted(_DEADLINES_FROM)}, got {deadline_from!r}")
        self.deadline_from: DeadlineFrom = deadline_from

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain-typed kwargs (no secrets: the API key stays in the connection)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "evolink_task_id": self.evolink_task_id,
                "evolink_conn_id": self.evolink_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "estimated_time": self.estimated_time,
                "adaptive_polling": self.adaptive_polling,
                "deadline_from": self.deadline_from,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the task ends; yield exactly one :class:`EvoLinkTaskEvent` payload."""
        hook = EvoLinkHook(evolink_conn_id=self.evolink_conn_id)
        try:
            event = await self._wait(hook)
        except Exception as error:
            # A crashing trigger fails the task without its evolink_task_id; an error event keeps it.
            self.log.exception("Unexpected error while waiting for EvoLink task %s", self.evolink_task_id)
            event = EvoLinkTaskEvent.from_error(self.evolink_task_id, error)
        finally:
            try:
                await hook.aclose()
            except Exception:
                self.log.warning("Could not close the EvoLink client cleanly", exc_info=True)
        if event.status != "success":  # the triggerer logs every event it fires; a failure deserves its reason
            self.log.info("EvoLink task %s: %s (%s)", self.evolink_task_id, event.status, event.message)
        yield TriggerEvent(event.to_payload())

    async def _wait(self, hook: EvoLinkHook) -> EvoLinkTaskEvent:
        self.log.info(
            "Waiting for EvoLink task %s: status reads %s %.1f s until %s",
            self.evolink_task_id,
            "paced by its progress, at most every" if self.adaptive_polling else "every",
            self.poll_interval,
            datetime.fromtimestamp(self.end_time, tz=UTC).isoformat(timespec="seconds"),
        )
        pacer = PollPacer(self.poll_interval, estimated_time=self.estimated_time, adaptive=self.adaptive_polling)
        delay = pacer.first_delay()
        spacing = self.poll_interval * (1 - JITTER)  # the closest two reads of a wait may come, and the batch lines
        earliest: float | None = retry.monotonic()  # how soon the next read may be pulled to fill a batch
        outage: OutageTolerance | None = None
        last_step: tuple[str, int] | None = None
        while (remaining := self.end_time - time.time()) > 0:
            try:
                # Sleeping past the deadline would overshoot it; the read at the deadline is the last chance.
                detail, read_at = await paced_read(
                    hook, self.evolink_task_id, min(delay, remaining), earliest=earliest, line=spacing
                )
            except EvoLinkError as error:
                if not error.retryable:
                    return EvoLinkTaskEvent.from_error(self.evolink_task_id, error)
                outage = outage or await self._outage_tolerance(hook)
                if (wait := _tolerated(outage, error)) is None:
                    return EvoLinkTaskEvent.from_error(self.evolink_task_id, error, failing_for=outage.failing_for)
                # Drawn now, not before the read: the pacer puts the wake-up on a grid line counted from now.
                # After a failure: on a batch line if one falls between the backoff's end and the jittered pace.
                delay, earliest = max(pacer.retry_delay(), wait), retry.monotonic() + wait
                continue
            if outage is not None:
                outage.recovered()
            if (event := EvoLinkTaskEvent.from_detail(detail)) is not None:
                return event
            # A wait on the batch lines stays on them (the last line before its next due read is a whole spacing
            # on); one that read between lines may come half a spacing sooner, once, to move onto them.
            delay, earliest = pacer.delay_after(detail.progress, detail.created), read_at + spacing / 2
            if (step := progress_step(detail)) != last_step:
                self.log.info("EvoLink task %s: %s", self.evolink_task_id, progress_message(detail))
                last_step = step
        return EvoLinkTaskEvent.timed_out(self.evolink_task_id, self.end_time, self.deadline_from)

    async def _outage_tolerance(self, hook: EvoLinkHook) -> OutageTolerance:
        settings = await hook.asettings()
        # No deadline here: the poll loop stops at end_time itself, with a timeout event.
        return settings.outage_tolerance_for(f"Reading EvoLink task {self.evolink_task_id}", log=self.log)

    async def on_kill(self) -> None:
        """A user killed the waiting task: say what happens to the remote one (it cannot be cancelled)."""
        self.log.warning(
            "Stopped waiting for EvoLink task %s. EvoLink has no cancel endpoint: the task keeps running and "
            "may still bill.",
            self.evolink_task_id,
        )


def _tolerated(outage: OutageTolerance, error: EvoLinkError) -> float | None:
    """Seconds to wait after a transient read failure, or ``None`` once the outage outlasted its tolerance."""
    try:
        return outage.wait_after(error)
    except EvoLinkError:
        return None
