"""
EvoLinkGenerateVideoOperator: submit one EvoLink video generation, never paying twice for it.

API source: ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``) and ``GET /v1/tasks/{task_id}``
(``get-task-detail.openapi.yaml``) in ``airflow_provider_evolink/api_reference/openapi/``; pricing, idempotency and
error rules: ``airflow_provider_evolink/api_reference/evolink-api.md``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_evolink import retry
from airflow_provider_evolink.airflow_errors import fail_or_retry
from airflow_provider_evolink.compat import conf
from airflow_provider_evolink.deadlines import WaitDeadline
from airflow_provider_evolink.defaults import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from airflow_provider_evolink.exceptions import EvoLinkConfigError, EvoLinkError, EvoLinkNotFoundError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models.pricing import credit_usage
from airflow_provider_evolink.models.requests import EvoLinkRequest
from airflow_provider_evolink.models.status import TaskStatus
from airflow_provider_evolink.operators.preflight import (
    DEFAULT_INPUT_LINK_EXPIRATION,
    check_budget,
    check_trigger_serializes,
    checked_input_link_expiration,
    checked_max_credits,
    read_price_list,
    validated_request,
)
from airflow_provider_evolink.pacing import PollPacer, usable_estimate
from airflow_provider_evolink.transfers.destinations import check_destinations_downstream
from airflow_provider_evolink.triggers.events import (
    EvoLinkTaskEvent,
    positive_seconds,
    progress_message,
    progress_step,
)
from airflow_provider_evolink.xcom import (
    XCOM_SUBMISSION,
    XCOM_TASK_DETAIL,
    XCOM_TASK_ID,
    XCOM_USAGE,
    completed_detail,
    finished_summary,
    own_xcom,
    short_prompt,
    submission_summary,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_evolink.inputs import ResolvedInputs
    from airflow_provider_evolink.models.cost_estimate import CostEstimate
    from airflow_provider_evolink.models.responses import TaskDetail, Usage
    from airflow_provider_evolink.never_pay_twice import SubmissionState
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

__all__ = ["DEFAULT_INPUT_LINK_EXPIRATION", "EvoLinkGenerateVideoOperator"]


class EvoLinkGenerateVideoOperator(BaseOperator):
    """
    Submit a video generation to EvoLink (``POST /v1/videos/generations``) and optionally wait for it.

    The request is validated (and its cost checked against ``max_credits``) before any HTTP call. Across Airflow
    retries of the same task instance the operator never pays twice where it can avoid it: the
    ``Idempotency-Key`` is generated once, stored in ``context["task_state_store"]`` before the POST, and the
    EvoLink task ID right after. A retry reconnects to a stored task that is pending, processing or completed;
    resubmits with a new key after a stored task failed or was cancelled (failed tasks are refunded); and with a
    key but no ID stored (the try died between the POST and storing the ID) submits again with the same key, so
    EvoLink replays the first task if that POST got through. A request that changed since the stored submission
    is submitted as a new task. The stored submission belongs to the task instance's try sequence: it is kept after
    success (a kill between the end of ``execute`` and Airflow recording the success must not pay twice), and a
    manual Clear, which starts a new try sequence, forgets it and generates anew (``never_pay_twice.py``). Reads
    of a running or stored task outlast API outages for the connection's ``outage_tolerance``
    (:data:`~airflow_provider_evolink.defaults.DEFAULT_OUTAGE_TOLERANCE`). The key only closes the POST-to-ID window
    where EvoLink honours it (its MCP server sends it; its docs do not promise it).

    XCom: ``return_value`` is always the EvoLink task ID (``str``), also pushed under ``evolink_task_id`` before
    any waiting, with a secret-free summary of the request under ``evolink_submission`` (prompt shortened,
    model, duration, quality and the ``evolink_usage`` credits:
    :func:`~airflow_provider_evolink.xcom.submission_summary`; the transfer copies it into its Asset events), and the
    task's credits under ``evolink_usage`` (:func:`~airflow_provider_evolink.models.credit_usage`). With
    ``wait_for_completion=True`` the completed task detail is pushed under ``evolink_task``: ``id``, ``model``,
    ``status``, ``progress``, ``created``, ``result_count``, ``task_info`` and ``usage`` (the same credits), without the
    signed result links (:func:`~airflow_provider_evolink.xcom.completed_detail` has the exact shape; every key:
    :mod:`airflow_provider_evolink.xcom`).

    :param request: the create request: a request model (``KlingO3ReferenceToVideoRequest``,
        ``KlingV3MotionControlRequest``, ``VideoGenerationRequest``) or a dict routed by its ``model`` key.
        Templated: strings inside it are rendered (a model is kept as its JSON dict so they can be).
    :param evolink_conn_id: the Airflow connection of type ``evolink`` (templated).
    :param wait_for_completion: wait until the EvoLink task ends; otherwise succeed once it is submitted.
    :param deferrable: wait in the triggerer (:class:`EvoLinkTaskTrigger`) instead of a worker slot; default
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between status reads while waiting, at the task's expected end (> 0;
        EvoLink's MCP server uses 8). Earlier reads are spaced by the task's progress and
        ``task_info.estimated_time`` (:mod:`airflow_provider_evolink.pacing`), never closer than this.
    :param adaptive_polling: pace reads as above (default); ``False`` switches back to a read every
        ``poll_interval`` (± 10 % in the triggerer) from start to finish.
    :param timeout: seconds to wait for the EvoLink task (> 0; some models take 40 minutes). EvoLink cannot
        cancel a task: after the timeout it may still complete and bill, and a retry reconnects to it.
        Airflow's ``execution_timeout`` (counted from the start of the try) bounds the wait too, deferred or
        not: a deferred wait ends at the earlier of the two deadlines (:mod:`airflow_provider_evolink.deadlines`),
        and at ``execution_timeout``'s the task fails with ``AirflowTaskTimeout``, as a wait in a worker does.
    :param max_credits: refuse to submit when the estimated cost (credits) exceeds this. The estimate comes from
        EvoLink's live price list (``GET /web/api/models/pricing``, read without the API key, cached per process),
        else the published per-second price of the model's entry in
        ``airflow_provider_evolink/api_reference/catalogue.json`` × duration, by quality; the log, XCom
        ``evolink_usage`` and lineage name the source. A model neither prices is refused too (fail closed) unless
        ``credits_per_second`` gives a price. ``None``: no check (the estimate is still logged).
    :param credits_per_second: the price (credits per second of output) to check ``max_credits`` against when
        neither source prices the model (e.g. Seedance Mini, a quality without a published price); × the request's
        ``duration``. Ignored when a source prices it.
    :param input_link_expiration: seconds a signed input link stays valid (1 to 604800, default 21600 = 6 h:
        EvoLink fetches inputs only when the task starts, after queueing, and a retry may replay the stored
        request; see :data:`~airflow_provider_evolink.defaults.DEFAULT_INPUT_LINK_EXPIRATION`).

    Media inputs may be public URLs, object-storage URIs / ``ObjectStoragePath`` (signed) or local files
    (uploaded through EvoLink's files API, public for 72 h): see :mod:`airflow_provider_evolink.inputs`. They
    are resolved after validation and the ``max_credits`` check and right before the POST, each source once; the
    rendered ``request`` keeps the URIs as written, and the links are masked in logs.

    :raises ValueError: on a bad constructor argument, naming it.
    :raises AirflowFailException: an invalid request (each field and rule named), a cost over ``max_credits``,
        a media input that is missing or breaks its field's type or size rules (field and URI named; nothing was
        uploaded), an upload the files API refused (quota used up, type refused: its ``code`` and ``msg``), a
        downstream ``EvoLinkToStorageOperator`` whose rendered ``destination`` cannot work (all before any POST),
        a task that failed with a non-retryable code or was cancelled, a non-retryable API answer (400, 401,
        402, 403, 409) or a bad connection: Airflow retries would fail the same way, so none are spent.
    :raises AirflowException: a retryable task failure or a timeout (a retry reconnects).
    :raises AirflowTaskTimeout: ``execution_timeout`` passed, in a worker or in the triggerer (a retry
        reconnects).
    :raises EvoLinkError: a transient error that outlasted the hook's retries (``retryable``; a retry
        reconnects, or replays the stored ``Idempotency-Key``).
    """

    template_fields: Sequence[str] = ("request", "evolink_conn_id")
    template_fields_renderers = {"request": "json"}
    ui_color = "#e8e0f8"

    def __init__(
        self,
        *,
        request: EvoLinkRequest | dict[str, Any],
        evolink_conn_id: str = EvoLinkHook.default_conn_name,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        max_credits: float | None = None,
        credits_per_second: float | None = None,
        adaptive_polling: bool = True,
        input_link_expiration: int = DEFAULT_INPUT_LINK_EXPIRATION,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # A dict, not a model: Jinja renders strings inside dicts only, and the serialized DAG can show it.
        self.request = request.to_api_json() if isinstance(request, EvoLinkRequest) else request
        self.evolink_conn_id = evolink_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = positive_seconds("poll_interval", poll_interval)
        self.timeout = positive_seconds("timeout", timeout)
        self.max_credits = checked_max_credits(max_credits)
        self.credits_per_second = checked_max_credits(credits_per_second, "credits_per_second")
        if not isinstance(adaptive_polling, bool):
            raise ValueError(f"adaptive_polling must be True or False, got {adaptive_polling!r}")
        self.adaptive_polling = adaptive_polling
        self.input_link_expiration = checked_input_link_expiration(input_link_expiration)
        self._evolink_task_id: str | None = None
        self._usage: Usage | None = None  # usage of the create answer
        self._result_locations: list[str] = []  # result URLs without their signed part, for lineage
        #: ``task_info.estimated_time`` (seconds) of the task this try submitted; ``None`` when reconnecting.
        self._estimated_time: float | None = None
        #: the cost estimate made before submitting (with its source), recorded beside the reservation.
        self._estimate: CostEstimate | None = None

    @cached_property
    def hook(self) -> EvoLinkHook:
        """The sync hook of ``evolink_conn_id``."""
        return EvoLinkHook(evolink_conn_id=self.evolink_conn_id)

    # ------------------------------------------------------------------ execution
    def execute(self, context: Context) -> str:
        # Bad input fails the same on every retry: refused before any POST, without spending Airflow retries.
        with fail_or_retry():
            request = validated_request(self.request)
            self._estimate = check_budget(
                request,
                self.max_credits,
                self.log,
                credits_per_second=self.credits_per_second,
                price_list=read_price_list(self.hook),
            )
            self._check_destinations(context)
            if self.wait_for_completion and self.deferrable:
                check_trigger_serializes(
                    self._trigger("task-unified-not-submitted-yet", WaitDeadline.of(self, self.timeout, context))
                )
        try:
            # A retryable error keeps Airflow's retries: the next try reconnects, or replays the stored key.
            with fail_or_retry():
                return self._submit_and_wait(context, request)
        finally:
            self.hook.close()

    def _submit_and_wait(self, context: Context, request: EvoLinkRequest) -> str:
        evolink_task_id, detail = self._reconnect_or_submit(context, request)
        self._evolink_task_id = evolink_task_id
        context["ti"].xcom_push(key=XCOM_TASK_ID, value=evolink_task_id)
        usage = credit_usage(self._reserved_usage(context), estimate=_usage_keys(self._estimate))
        context["ti"].xcom_push(key=XCOM_USAGE, value=usage)
        context["ti"].xcom_push(key=XCOM_SUBMISSION, value=submission_summary(request, evolink_task_id, usage))
        if not self.wait_for_completion:
            return self._succeeded(context, evolink_task_id)
        event = EvoLinkTaskEvent.from_detail(detail) if detail is not None else None
        if event is None:
            if self.deferrable:
                deadline = WaitDeadline.of(self, self.timeout, context)
                self.defer(
                    trigger=self._trigger(evolink_task_id, deadline),
                    method_name="execute_complete",
                    timeout=deadline.defer_timeout,
                )
            event, detail = self._wait(evolink_task_id)
        return self._finish(context, event, detail)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after :class:`EvoLinkTaskTrigger` fired: validate the event, then finish or raise.

        ``success`` → the detail is re-read with the sync hook (events carry no result URLs), pushed under
        ``evolink_task``, and the ID returned. Other outcomes raise as :meth:`EvoLinkTaskEvent.raise_for_status`
        says; ``None`` or an unknown status raises :class:`~airflow.sdk.exceptions.AirflowException`.
        """
        try:
            with fail_or_retry():
                return self._finish(context, EvoLinkTaskEvent.parse(event), None)
        finally:
            self.hook.close()

    def on_kill(self) -> None:
        if self._evolink_task_id is not None:
            self.log.warning(
                "Killed while waiting for EvoLink task %s. EvoLink has no cancel endpoint: it keeps running and "
                "may still bill; a retry reconnects to it.",
                self._evolink_task_id,
            )

    # ------------------------------------------------------------------ before submitting

    def _check_destinations(self, context: Context) -> None:
        # A save task downstream whose destination cannot work would fail only after this video is paid for.
        try:
            check_destinations_downstream(self, context)
        except EvoLinkConfigError as error:
            raise EvoLinkConfigError(f"{error}; nothing was submitted") from None

    def _trigger(self, evolink_task_id: str, deadline: WaitDeadline) -> EvoLinkTaskTrigger:
        # Imported here, when deferring: DAG parsing does not pay for Airflow's trigger machinery (issue 34).
        from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

        return EvoLinkTaskTrigger(
            evolink_task_id=evolink_task_id,
            evolink_conn_id=self.evolink_conn_id,
            poll_interval=self.poll_interval,
            end_time=deadline.end_time,
            estimated_time=self._estimated_time,
            adaptive_polling=self.adaptive_polling,
            deadline_from=deadline.source,
        )

    # ------------------------------------------------------------------ submitting
    def _reconnect_or_submit(self, context: Context, request: EvoLinkRequest) -> tuple[str, TaskDetail | None]:
        """The EvoLink task ID to wait for, and its detail when an earlier try's task was reconnected to."""
        # Imported when a try submits, as the input resolution is: DAG files do not pay for it.
        from airflow_provider_evolink.never_pay_twice import (
            SubmissionState,
            reconnects_to,
            request_fingerprint,
            try_sequence,
        )
        from airflow_provider_evolink.state_store import usable_submission_store

        sequence = try_sequence(context.get("ti"), self.retries)
        store = usable_submission_store(context, sequence, self.log)
        # The request as the user wrote it (URIs), never the links made for it: those differ on every try.
        state = SubmissionState(store, request_fingerprint(request.to_api_json()), sequence)
        if (stored_id := state.stored_task_id()) is not None:
            detail = self._stored_task(stored_id)
            if detail is not None and reconnects_to(detail.status):
                self.log.info(
                    "Reconnecting to EvoLink task %s (%s) submitted by an earlier try: not submitting again",
                    stored_id,
                    detail.status.value,
                )
                return stored_id, detail
            if detail is not None:
                self.log.warning(
                    "EvoLink task %s from an earlier try ended %s%s: submitting again with a new Idempotency-Key",
                    stored_id,
                    detail.status.value,
                    f" [{detail.error.code}]" if detail.error and detail.error.code else "",
                )
            state.forget_task()
        body, idempotency_key = self._replay(state, request) or self._new_submission(state, request)
        prompt = short_prompt(request)
        self.log.info("Submitting a %s generation, %s", request.model, f"prompt {prompt!r}" if prompt else "no prompt")
        task = self.hook.create_video_generation(body, idempotency_key=idempotency_key)
        self._usage = task.usage
        state.submitted(task.id, task.usage.model_dump(mode="json", exclude_none=True) if task.usage else None)
        self._estimated_time = usable_estimate(task.task_info.estimated_time if task.task_info else None)
        reserved = task.usage.credits_reserved if task.usage else None
        self.log.info("EvoLink reserved %s credits", "an unknown number of" if reserved is None else f"{reserved:g}")
        from airflow_provider_evolink.models.cost_estimate import reserved_warning

        if (warning := reserved_warning(self._estimate, reserved)) is not None:
            self.log.warning(warning)
        self.log.info("EvoLink task ID: %s", task.id)
        return task.id, None

    # ------------------------------------------------------------------ media inputs
    def _resolve_inputs(self, request: EvoLinkRequest) -> ResolvedInputs:
        """Sign or upload the request's object-storage and local inputs (each once); public URLs pass as they are."""
        # Imported here: DAG files parse this module, and only a submitting try resolves inputs.
        from airflow_provider_evolink.inputs import resolve_inputs

        resolved = resolve_inputs(request, self.hook, expiration=self.input_link_expiration)
        if resolved.links:
            self.log.info(
                "Media inputs: %d signed (links valid %d s), %d uploaded to EvoLink's files API (public for 72 h)",
                resolved.signed,
                self.input_link_expiration,
                resolved.uploaded,
            )
        return resolved

    def _replay(self, state: SubmissionState, request: EvoLinkRequest) -> tuple[dict[str, Any], str] | None:
        """The body and key an earlier try may have sent without storing the task ID: the request itself, or the
        sealed body with its signed or uploaded links. ``None`` when there is nothing to replay, or the sealed body
        cannot be read with this connection's API key (the inputs are then resolved anew, with a new key)."""
        if (replay := state.replayable()) is None:
            return None
        key, sealed = replay
        from airflow_provider_evolink.inputs import unseal

        if sealed is None:
            return request.to_api_json(), key
        if (resolved := unseal(sealed, self.hook.settings.api_key)) is None:
            self.log.warning(
                "The request an earlier try sent cannot be read with this connection's API key (it changed?): "
                "submitting anew with a new Idempotency-Key"
            )
            return None
        return resolved.body, key

    def _new_submission(self, state: SubmissionState, request: EvoLinkRequest) -> tuple[dict[str, Any], str]:
        """Resolve the inputs, then store a new key (with the sealed body when links were made) before the POST."""
        from airflow_provider_evolink.inputs import seal

        resolved = self._resolve_inputs(request)
        sealed = seal(resolved, self.hook.settings.api_key) if resolved.links else None
        return resolved.body, state.new_key(sealed)

    def _stored_task(self, evolink_task_id: str) -> TaskDetail | None:
        """An earlier try's task, or ``None`` when EvoLink no longer knows it (404). The read outlasts an API
        outage: giving up on it would fail a task that is already paid for."""
        outage = self.hook.settings.outage_tolerance_for(
            f"Reading EvoLink task {evolink_task_id} (submitted by an earlier try)", log=self.log
        )
        try:
            detail = outage.call(lambda: self.hook.get_task(evolink_task_id))
        except EvoLinkNotFoundError:
            self.log.warning(
                "EvoLink no longer knows task %s from an earlier try: submitting again with a new Idempotency-Key",
                evolink_task_id,
            )
            return None
        return detail

    # ------------------------------------------------------------------ waiting and finishing
    def _wait(self, evolink_task_id: str) -> tuple[EvoLinkTaskEvent, TaskDetail | None]:
        """Poll with the sync hook until the task ends or ``timeout``; transient errors (after the hook's own
        retries) are tolerated for the connection's ``outage_tolerance``, bounded by the deadline."""
        end_time = time.time() + self.timeout
        pacer = PollPacer(self.poll_interval, estimated_time=self._estimated_time, adaptive=self.adaptive_polling)
        last_step: tuple[str, int] | None = None
        outage = self.hook.settings.outage_tolerance_for(
            f"Reading EvoLink task {evolink_task_id}", deadline=end_time, log=self.log
        )
        while True:
            try:
                detail = outage.call(lambda: self.hook.get_task(evolink_task_id))
            except EvoLinkError as error:
                return EvoLinkTaskEvent.from_error(evolink_task_id, error, failing_for=outage.failing_for), None
            if (event := EvoLinkTaskEvent.from_detail(detail)) is not None:
                return event, detail
            if (step := progress_step(detail)) != last_step:
                self.log.info("EvoLink task %s: %s", evolink_task_id, progress_message(detail))
                last_step = step
            if (remaining := end_time - time.time()) <= 0:
                return EvoLinkTaskEvent.timed_out(evolink_task_id, end_time), None
            retry.sleep(min(pacer.delay_after(detail.progress, detail.created), remaining))

    def _finish(self, context: Context, event: EvoLinkTaskEvent, detail: TaskDetail | None) -> str:
        self._evolink_task_id = event.evolink_task_id
        reserved = self._reserved_usage(context)
        estimate = _usage_keys(self._submitted_estimate(context))
        if event.status == "failed":  # EvoLink refunds failed tasks: record it before failing
            context["ti"].xcom_push(key=XCOM_USAGE, value=credit_usage(reserved, TaskStatus.FAILED, estimate=estimate))
        event.raise_for_status()
        if detail is None:  # events carry no result URLs: read the detail they left out
            detail = self.hook.get_task(event.evolink_task_id)
        # Imported here: DAG files parse this module, and only a finishing task names results for lineage.
        from airflow_provider_evolink.openlineage import public_location

        usage = credit_usage(reserved, detail.status, detail.usage, estimate)
        ti = context["ti"]
        ti.xcom_push(key=XCOM_TASK_DETAIL, value=completed_detail(detail, usage))
        ti.xcom_push(key=XCOM_USAGE, value=usage)
        if isinstance(submitted := own_xcom(ti, XCOM_SUBMISSION), dict):
            ti.xcom_push(key=XCOM_SUBMISSION, value=finished_summary(submitted, usage, detail, time.time()))
        self._result_locations = [public_location(url) for url in detail.results]
        return self._succeeded(context, event.evolink_task_id)

    def _submitted_estimate(self, context: Context) -> CostEstimate | None:
        """The estimate of this try's submission: this instance's, else as the deferring half recorded it."""
        if self._estimate is None:
            from airflow_provider_evolink.models.cost_estimate import CostEstimate

            self._estimate = CostEstimate.from_usage(own_xcom(context["ti"], XCOM_USAGE))
        return self._estimate

    def _reserved_usage(self, context: Context) -> Usage | None:
        """The create answer's ``usage``: from this try, else as an earlier try or the deferring half stored it."""
        from airflow_provider_evolink.models.responses import Usage
        from airflow_provider_evolink.never_pay_twice import stored_usage
        from airflow_provider_evolink.state_store import StateStoreUnavailable, submission_store

        if self._usage is None:
            with contextlib.suppress(StateStoreUnavailable):  # the usage is only reported: its absence is said
                if (stored := stored_usage(submission_store(context))) is not None:
                    self._usage = Usage.model_validate(stored)
        return self._usage

    # ------------------------------------------------------------------ OpenLineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage of this run, for the OpenLineage provider's listener (extra ``[openlineage]``).

        Inputs: the request's media, named without query strings; outputs: the results when the operator
        waited; run facets ``externalQuery`` (the EvoLink task ID, the API base URL) and
        ``evolink_generation`` (model, seconds, quality, estimated and reserved credits). See
        :mod:`airflow_provider_evolink.openlineage.facets`.
        """
        from airflow_provider_evolink.openlineage.facets import generation_lineage

        return generation_lineage(
            self.request,
            evolink_task_id=self._evolink_task_id,
            api_base_url=self.hook.base_url if self._evolink_task_id else None,
            reserved_credits=self._usage.credits_reserved if self._usage else None,
            result_locations=self._result_locations,
            estimate=self._estimate,
        )

    def _succeeded(self, context: Context, evolink_task_id: str) -> str:
        # Nothing cleared: a kill before Airflow records the success must still find the task (never_pay_twice.py).
        return evolink_task_id


def _usage_keys(estimate: CostEstimate | None) -> dict[str, Any] | None:
    """The keys an estimate adds to XCom ``evolink_usage`` (``None`` without one)."""
    return estimate.as_usage() if estimate is not None else None
