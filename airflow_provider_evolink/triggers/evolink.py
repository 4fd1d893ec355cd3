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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_evolink import retry
from airflow_provider_evolink.airflow_errors import airflow_exception
from airflow_provider_evolink.compat import AirflowException, AirflowTaskTimeout
from airflow_provider_evolink.defaults import DEFAULT_POLL_INTERVAL
from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkTaskFailedError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models.status import TaskStatus
from airflow_provider_evolink.pacing import JITTER, PollPacer
from airflow_provider_evolink.retry import OutageTolerance
from airflow_provider_evolink.triggers.coalescer import paced_read

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import TaskDetail

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

#: Seconds ``defer(timeout=)`` allows past the wait's own deadline. The trigger enforces the real deadline and
#: still makes a last read at it, which the hook may retry for a few minutes; the backstop only catches a lost trigger.
DEFER_BACKSTOP_SECONDS = 300.0
#: Progress is logged when its status changes or it passes a quarter, not at every read.
_PROGRESS_LOG_STEP = 25
#: Messages come from the API; keep the event row and exception text a sane size.
_MAX_MESSAGE_CHARS = 1000

#: The ``error_code`` of a ``timeout`` event whose deadline was the task's ``execution_timeout`` (else ``timeout``).
EXECUTION_TIMEOUT = "execution_timeout"
#: Which limit set a trigger's deadline: the wait's own ``timeout`` or what ``execution_timeout`` left.
DeadlineFrom = Literal["timeout", "execution_timeout"]
_DEADLINES_FROM: frozenset[str] = frozenset(get_args(DeadlineFrom))

EventStatus = Literal["success", "failed", "cancelled", "timeout", "error"]
_EVENT_STATUSES: frozenset[str] = frozenset(get_args(EventStatus))


def positive_seconds(name: str, value: Any) -> float:
    """``value`` as float seconds.

    :raises ValueError: not a number > 0 (booleans included), naming ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE_CHARS else message[: _MAX_MESSAGE_CHARS - 1] + "…"


def _no_cancel_note(evolink_task_id: str) -> str:
    return (
        f"EvoLink has no cancel endpoint: task {evolink_task_id} may still complete and bill. "
        "A retry of this Airflow task reconnects to it instead of submitting again."
    )


def progress_step(detail: TaskDetail) -> tuple[str, int]:
    """What a progress log line is worth writing for: the status and the quarter of progress (a line per
    change of either, not per read)."""
    return detail.status.value, detail.progress // _PROGRESS_LOG_STEP


def progress_message(detail: TaskDetail) -> str:
    """One line of status for logs, e.g. ``processing, progress 40%, ~180 s estimated`` (never result URLs)."""
    estimated = detail.task_info.estimated_time if detail.task_info else None
    return f"{detail.status.value}, progress {detail.progress}%" + (
        f", ~{estimated} s estimated" if estimated is not None else ""
    )


@dataclass(frozen=True)
class EvoLinkTaskEvent:
    """
    The one event :class:`EvoLinkTaskTrigger` fires, and how a resumed task reads it.

    Payload (``to_payload()``, plain JSON types only, no result URLs: the event row is stored unencrypted)::

        {"status": "success" | "failed" | "cancelled" | "timeout" | "error",
         "evolink_task_id": str, "error_code": str | None, "retryable": bool, "message": str}

    ``failed``/``cancelled``: the EvoLink task ended so, ``error_code`` is its ``error.code``
    (``airflow_provider_evolink/api_reference/evolink-api.md``) and ``retryable`` whether a resubmission may succeed.
    ``timeout``: the deadline passed while the task was still running (it may still complete); ``error_code`` names
    the limit that set it, ``"timeout"`` or ``"execution_timeout"``. ``error``: polling could not go on
    (401/403/404, bad connection, transient errors for longer than the outage tolerance, an unexpected
    exception); ``retryable`` says whether an Airflow retry can help.
    """

    status: EventStatus
    evolink_task_id: str
    error_code: str | None = None
    retryable: bool = False
    message: str = ""

    # ------------------------------------------------------------------ building
    @classmethod
    def from_detail(cls, detail: TaskDetail) -> EvoLinkTaskEvent | None:
        """The event for a terminal task detail, ``None`` while the task is ``pending``/``processing``."""
        if detail.status is TaskStatus.COMPLETED:
            return cls("success", detail.id, message=f"EvoLink task {detail.id} completed")
        if not detail.status.is_terminal:
            return None
        failure = EvoLinkTaskFailedError(
            detail.id,
            status=detail.status.value,
            code=detail.error.code if detail.error else None,
            message=detail.error.message if detail.error else None,
        )
        return cls(
            "failed" if detail.status is TaskStatus.FAILED else "cancelled",
            detail.id,
            error_code=failure.code,
            retryable=failure.retryable,
            message=_clip(str(failure)),
        )

    @classmethod
    def from_error(
        cls, evolink_task_id: str, error: BaseException, *, failing_for: float | None = None
    ) -> EvoLinkTaskEvent:
        """The ``error`` event for a polling error that ends the wait (``failing_for``: seconds transient errors
        had lasted in a row, when that is why).

        EvoLink errors carry their own ``retryable`` and a secret-free message; anything else is reported by
        type only (its text is unknown and could hold a result URL) and counted as retryable, since an Airflow
        retry only reconnects to the same task.
        """
        if isinstance(error, EvoLinkAPIError):
            code = error.code or f"http_{error.status_code}"
        elif isinstance(error, EvoLinkConfigError):
            code = "invalid_configuration"
        elif isinstance(error, EvoLinkTransportError):
            code = "network_error"
        elif isinstance(error, EvoLinkError):
            code = "invalid_response"
        else:
            return cls(
                "error",
                evolink_task_id,
                error_code="unexpected_error",
                retryable=True,
                message=f"unexpected {type(error).__name__} while waiting for EvoLink task {evolink_task_id}; "
                "see the triggerer log",
            )
        after = f" (gave up after failing for {failing_for:.0f} s)" if error.retryable and failing_for else ""
        return cls(
            "error",
            evolink_task_id,
            error_code=code,
            retryable=error.retryable,
            message=_clip(f"could not read EvoLink task {evolink_task_id}{after}: {error}"),
        )

    @classmethod
    def timed_out(
        cls, evolink_task_id: str, end_time: float, deadline_from: DeadlineFrom = "timeout"
    ) -> EvoLinkTaskEvent:
        """The ``timeout`` event: ``end_time`` (epoch seconds), set by ``deadline_from``, passed with the task
        still running."""
        deadline = datetime.fromtimestamp(end_time, tz=UTC).isoformat(timespec="seconds")
        return cls(
            "timeout",
            evolink_task_id,
            error_code=deadline_from,
            retryable=True,
            message=f"EvoLink task {evolink_task_id} was still running at the {deadline_from} deadline "
            f"({deadline}). " + _no_cancel_note(evolink_task_id),
        )

    def raise_if_execution_timed_out(self) -> None:
        """:raises AirflowTaskTimeout: this is a ``timeout`` at the ``execution_timeout`` deadline."""
        if self.status == "timeout" and self.error_code == EXECUTION_TIMEOUT:
            raise AirflowTaskTimeout(self.message)

    def to_payload(self) -> dict[str, Any]:
        """The event as plain JSON types, for :class:`~airflow.triggers.base.TriggerEvent`."""
        return dict(vars(self))  # the fields, in order (``dataclasses.asdict`` deep-copies each: 20x the CPU)

    # ------------------------------------------------------------------ reading
    @classmethod
    def parse(cls, payload: Any) -> EvoLinkTaskEvent:
        """Validate a payload a resumed task received before anything reads it.

        :raises AirflowException: ``None``, not a mapping, an unknown ``status`` or a missing/mistyped field
            (retryable: a retry reconnects to the stored task).
        """
        if not isinstance(payload, Mapping):
            raise AirflowException(f"EvoLink trigger returned no usable event (got {type(payload).__name__})")
        status = payload.get("status")
        if status not in _EVENT_STATUSES:
            raise AirflowException(
                f"EvoLink trigger event has unknown status {status!r}; expected one of {sorted(_EVENT_STATUSES)}"
            )
        evolink_task_id = payload.get("evolink_task_id")
        error_code = payload.get("error_code")
        retryable = payload.get("retryable", False)
        message = payload.get("message", "")
        if (
            not isinstance(evolink_task_id, str)
            or not evolink_task_id
            or not (error_code is None or isinstance(error_code, str))
            or not isinstance(retryable, bool)
            or not isinstance(message, str)
        ):
            raise AirflowException(
                "EvoLink trigger event is malformed: evolink_task_id must be a non-empty string, error_code a "
                "string or null, retryable a boolean and message a string"
            )
        return cls(cast(EventStatus, status), evolink_task_id, error_code, retryable, message)

    def raise_for_status(self) -> None:
        """Return for ``success``; otherwise raise the Airflow exception that fits.

        :raises AirflowFailException: not retryable (a non-retryable task failure, ``cancelled``, a 401/403/404
            or bad connection): Airflow retries would fail the same way, so none are spent.
        :raises AirflowException: retryable (a retryable task failure, ``timeout``, transient errors): an
            Airflow retry of the operator reconnects or resubmits.
        :raises AirflowTaskTimeout: a ``timeout`` at the ``execution_timeout`` deadline, as Airflow fails a task
            that runs past it (retries allowed).
        """
        self.raise_if_execution_timed_out()
        if self.status != "success":
            raise airflow_exception(self.message, retryable=self.retryable)


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
                delay, earliest = max(pacer.retry_delay(), wait), None  # after a failure, not a moment earlier
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
