"""
The one event :class:`~airflow_provider_evolink.triggers.evolink.EvoLinkTaskTrigger` fires
(:class:`EvoLinkTaskEvent`) and the progress helpers its waits share, apart from the trigger class so that a DAG
file importing the operator or the sensor does not import Airflow's trigger machinery (the trigger is imported
when a task defers).

API source: ``GET /v1/tasks/{task_id}``
(``airflow_provider_evolink/api_reference/openapi/get-task-detail.openapi.yaml``); which task failures are retryable:
``airflow_provider_evolink/api_reference/evolink-api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from airflow_provider_evolink.airflow_errors import airflow_exception
from airflow_provider_evolink.compat import AirflowException, AirflowTaskTimeout
from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkTaskFailedError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = [
    "DEFER_BACKSTOP_SECONDS",
    "EXECUTION_TIMEOUT",
    "DeadlineFrom",
    "EvoLinkTaskEvent",
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
