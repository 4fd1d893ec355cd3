"""
EvoLinkTaskSensor: wait for an EvoLink task to end, in poke, reschedule or deferrable mode.

API source: ``GET /v1/tasks/{task_id}``
(``airflow_provider_evolink/api_reference/openapi/get-task-detail.openapi.yaml``); failure codes and their retryability:
``airflow_provider_evolink/api_reference/evolink-api.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_evolink.airflow_errors import airflow_exception
from airflow_provider_evolink.compat import AirflowSensorTimeout, conf
from airflow_provider_evolink.deadlines import WaitDeadline
from airflow_provider_evolink.defaults import DEFAULT_POLL_INTERVAL
from airflow_provider_evolink.exceptions import EvoLinkError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.pacing import PollPacer, usable_estimate
from airflow_provider_evolink.retry import OutageTolerance
from airflow_provider_evolink.triggers.events import (
    EvoLinkTaskEvent,
    progress_message,
    progress_step,
)
from airflow_provider_evolink.xcom import completed_detail

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = ["EvoLinkTaskSensor"]


class EvoLinkTaskSensor(BaseSensorOperator):
    """
    Wait until an EvoLink task ends (``GET /v1/tasks/{task_id}``) and return its detail.

    ``completed`` → returns (XCom ``return_value``) the task detail as a dict (``id``, ``model``, ``status``,
    ``progress``, ``created``, ``result_count``, ``task_info``, ``usage``: ``None`` here, the task detail does not
    carry it), without the signed result links: ``EvoLinkToStorageOperator`` re-reads them
    (:func:`~airflow_provider_evolink.xcom.completed_detail` has the exact shape).
    ``failed`` or ``cancelled`` → the sensor fails without retries, since the EvoLink task is over and
    re-reading it cannot change that; the message carries the error code and says whether resubmitting (clearing
    the submitting task) may succeed. With ``soft_fail=True`` it is skipped instead, as on a timeout. A
    400/401/403/404 answer fails at once; transient errors that outlast the hook's retries
    are tolerated for the connection's ``outage_tolerance`` (``defaults.py``; in ``reschedule`` mode each
    poke starts afresh, so only ``timeout`` bounds them), then fail with Airflow retries allowed.

    Deferrable mode reads the task once, and defers to :class:`EvoLinkTaskTrigger` only if it is still running;
    on resuming it re-reads the detail with the sync hook (trigger events carry no result URLs either).

    :param evolink_task_id: the EvoLink task ID (templated), e.g. ``"{{ ti.xcom_pull('submit') }}"``.
    :param evolink_conn_id: the Airflow connection of type ``evolink`` (templated).
    :param deferrable: wait in the triggerer instead of a worker slot; default ``[operators] default_deferrable``.
    :param poke_interval: seconds between status reads at the task's expected end (EvoLink's MCP server uses
        8). Earlier reads are spaced by the task's progress (and ``task_info.estimated_time`` when the answer
        has one; :mod:`airflow_provider_evolink.pacing`), never closer than this, in every mode.
    :param adaptive_polling: pace reads as above (default); ``False`` switches back to a read every
        ``poke_interval`` (Airflow's ``exponential_backoff`` then applies as usual; with it set, Airflow's
        backoff decides in poke and reschedule modes either way).
    :param timeout: seconds to wait before failing (or skipping with ``soft_fail``). EvoLink cannot cancel a
        task: it may still complete and bill after the sensor gave up. Airflow's ``execution_timeout`` (counted
        from the start of the try) bounds the wait in every mode: a deferred wait ends at the earlier of the two
        deadlines (:mod:`airflow_provider_evolink.deadlines`), and at ``execution_timeout``'s the sensor fails
        with ``AirflowTaskTimeout``, as in poke mode.
    :param kwargs: passed to :class:`~airflow.sdk.BaseSensorOperator` (``mode``, ``soft_fail``, ...).
    """

    template_fields: Sequence[str] = ("evolink_task_id", "evolink_conn_id")
    ui_color = "#e8e0f8"

    def __init__(
        self,
        *,
        evolink_task_id: str,
        evolink_conn_id: str = EvoLinkHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = 3600.0,
        adaptive_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.evolink_task_id = evolink_task_id
        self.evolink_conn_id = evolink_conn_id
        self.deferrable = deferrable
        self._outage: OutageTolerance | None = None
        if not isinstance(adaptive_polling, bool):
            raise ValueError(f"adaptive_polling must be True or False, got {adaptive_polling!r}")
        self.adaptive_polling = adaptive_polling
        self._pacer: PollPacer | None = None
        self._next_poke: float | None = None
        self._last_step: tuple[str, int] | None = None

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        finally:
            self.hook.close()

    @cached_property
    def hook(self) -> EvoLinkHook:
        """The sync hook of ``evolink_conn_id``, closed when the sensor's ``execute`` ends."""
        return EvoLinkHook(evolink_conn_id=self.evolink_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        """Read the task once: done with its detail dict, not done, or raise; deferrable mode defers here."""
        estimated_time = None
        self._next_poke = None
        if (detail := self._read()) is not None:
            if (event := EvoLinkTaskEvent.from_detail(detail)) is not None:
                self._raise_for(event)
                return PokeReturnValue(is_done=True, xcom_value=completed_detail(detail))
            if (step := progress_step(detail)) != self._last_step:
                self.log.info("EvoLink task %s: %s", self.evolink_task_id, progress_message(detail))
                self._last_step = step
            estimated_time = usable_estimate(detail.task_info.estimated_time if detail.task_info else None)
            self._next_poke = self._paced(detail, estimated_time)
        if self.deferrable:
            # Imported here, when deferring: DAG parsing does not pay for Airflow's trigger machinery (issue 34).
            from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

            deadline = WaitDeadline.of(self, self.timeout, context)
            # Deferring inside poke() keeps soft_fail/never_fail for this read (TaskDeferred passes through).
            self.defer(
                trigger=EvoLinkTaskTrigger(
                    evolink_task_id=self.evolink_task_id,
                    evolink_conn_id=self.evolink_conn_id,
                    poll_interval=self.poke_interval,
                    end_time=deadline.end_time,
                    estimated_time=estimated_time,
                    adaptive_polling=self.adaptive_polling,
                    deadline_from=deadline.source,
                ),
                method_name="execute_complete",
                timeout=deadline.defer_timeout,
            )
        return PokeReturnValue(is_done=False)

    def _paced(self, detail: TaskDetail, estimated_time: float | None) -> float:
        if self._pacer is None:
            self._pacer = PollPacer(self.poke_interval, estimated_time=estimated_time, adaptive=self.adaptive_polling)
        return self._pacer.delay_after(detail.progress, detail.created)

    def _get_next_poke_interval(
        self, started_at: datetime | float, run_duration: Callable[[], float], poke_count: int
    ) -> float:
        # Asked between pokes: the last poke computed the delay from what EvoLink said (none after a failed read).
        if not self.adaptive_polling or self.exponential_backoff or self._next_poke is None:
            return super()._get_next_poke_interval(started_at, run_duration, poke_count)
        return max(0.0, min(self._next_poke, self.timeout - run_duration()))

    def _read(self) -> TaskDetail | None:
        """The task's detail, or ``None`` while transient failures (after the hook's retries) have lasted less
        than the connection's ``outage_tolerance`` (the sensor's ``timeout`` bounds the whole wait)."""
        try:
            detail = self.hook.get_task(self.evolink_task_id)
        except EvoLinkError as error:
            if self._outage is None:
                self._outage = self.hook.settings.outage_tolerance_for(
                    f"Reading EvoLink task {self.evolink_task_id}", log=self.log
                )
            try:
                self._outage.wait_after(error)  # the next poke comes after poke_interval
            except EvoLinkError:
                self._raise_for(
                    EvoLinkTaskEvent.from_error(self.evolink_task_id, error, failing_for=self._outage.failing_for)
                )
            return None
        if self._outage is not None:
            self._outage.recovered()
        return detail

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: validate the event, then return the re-read detail or raise.

        :raises AirflowException: ``None`` or an unknown status (retries allowed).
        :raises AirflowTaskTimeout: the trigger stopped at the ``execution_timeout`` deadline (never skipped by
            ``soft_fail``, as in poke mode).
        """
        self._raise_for(EvoLinkTaskEvent.parse(event))
        try:
            return completed_detail(self.hook.get_task(self.evolink_task_id))
        finally:
            self.hook.close()

    def _raise_for(self, event: EvoLinkTaskEvent) -> None:
        """Map a non-success event to the sensor's exceptions (soft_fail is applied by BaseSensorOperator)."""
        event.raise_if_execution_timed_out()
        if event.status == "timeout":
            raise AirflowSensorTimeout(event.message)
        if event.status in ("failed", "cancelled"):
            # Re-reading an ended task cannot change it; only resubmitting (the submitting task) can.
            raise airflow_exception(event.message, retryable=False)
        event.raise_for_status()
