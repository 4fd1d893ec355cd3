"""EvoLinkGenerateVideoOperator: validation before HTTP, idempotency across retries, waiting, every outcome."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_names import TaskDeferred
from fakes import FakeTaskInstance, FakeTaskStateStore, SimulatedCrash, context_of
from structlog.testing import capture_logs

from airflow_provider_evolink.compat import AirflowException, AirflowFailException
from airflow_provider_evolink.models import KlingO3ReferenceToVideoRequest
from airflow_provider_evolink.never_pay_twice import STATE_SUBMISSION, STATE_TASK_ID, STATE_USAGE
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.triggers.evolink import DEFER_BACKSTOP_SECONDS, EvoLinkTaskEvent, EvoLinkTaskTrigger

DAGS = Path(__file__).parent / "dags"


@dataclass
class DagTestRun:
    """What the ``dag_run`` fixture saw: the run, its emulator, the triggers run inline, the keys stored."""

    run: Any
    emulator: Any
    triggers: list[Any] = field(default_factory=list)
    stored_keys: list[str] = field(default_factory=list)


def o3_request(prompt: str | None = None, **fields: Any) -> dict[str, Any]:
    """A valid O3 request; a unique prompt by default, since the emulator's fail-once markers go by prompt."""
    return {
        "model": "kling-o3-reference-to-video",
        "prompt": prompt or f"a red fox in the snow {uuid.uuid4().hex[:8]}",
        "duration": 5,
        **fields,
    }


def make_operator(request: Any = None, **kwargs: Any) -> EvoLinkGenerateVideoOperator:
    kwargs.setdefault("poll_interval", 0.05)
    return EvoLinkGenerateVideoOperator(task_id="generate", request=request or o3_request(), **kwargs)


def posts(emu: Any, since: int = 0) -> list[dict[str, Any]]:
    return [entry for entry in emu.requests()[since:] if entry["method"] == "POST"]


# ----------------------------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"max_credits": -5}, "max_credits"),
        ({"adaptive_polling": "yes"}, "adaptive_polling"),
    ],
)
def test_bad_constructor_arguments_are_refused_naming_them(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        make_operator(**kwargs)


def test_a_request_model_is_kept_as_a_dict_so_jinja_renders_inside_it() -> None:
    operator = make_operator(KlingO3ReferenceToVideoRequest(prompt="{{ params.prompt }}", duration=5))

    operator.render_template_fields({"params": {"prompt": "a red fox"}})

    assert operator.request == {"model": "kling-o3-reference-to-video", "prompt": "a red fox", "duration": 5}


# --------------------------------------------------------------------------------- refused before HTTP
def test_an_invalid_request_fails_before_any_http_call_naming_field_and_rule(emulator: Any) -> None:
    before = len(emulator.requests())
    operator = make_operator(o3_request(video_url="https://example.com/ref.mp4", duration=12))

    with pytest.raises(AirflowFailException, match="duration") as raised:
        operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    assert "nothing was submitted" in str(raised.value)
    assert len(emulator.requests()) == before


def test_an_estimate_over_max_credits_fails_before_submitting_with_the_estimate(emulator: Any) -> None:
    before = len(emulator.requests())
    operator = make_operator(o3_request(duration=10, quality="1080p"), max_credits=50)

    with pytest.raises(AirflowFailException, match=r"108\.054 credits exceeds max_credits=50 .*EvoLink's price list"):
        operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    # Only the public price list was read: nothing paid for, no API call.
    assert [entry["path"] for entry in emulator.requests()[before:]] in ([], ["/web/api/models/pricing"])


def test_max_credits_with_an_unpriced_model_fails_closed(emulator: Any) -> None:
    before = len(emulator.requests())
    operator = make_operator({"model": "some-new-video-model", "prompt": "a fox"}, max_credits=1000)

    with pytest.raises(AirflowFailException, match="fail closed"):
        operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    assert len(emulator.requests()) == before


def test_trigger_arguments_that_do_not_serialize_fail_before_submitting(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = EvoLinkTaskTrigger.serialize
    monkeypatch.setattr(
        EvoLinkTaskTrigger, "serialize", lambda self: (original(self)[0], {**original(self)[1], "lock": object()})
    )
    before = len(emulator.requests())

    with pytest.raises(AirflowFailException, match=r"cannot be serialized|do not survive serialization"):
        make_operator(wait_for_completion=True, deferrable=True).execute(
            context_of(FakeTaskInstance(), FakeTaskStateStore())
        )

    assert len(emulator.requests()) == before


# ------------------------------------------------------------------------------------------ submitting
def test_submit_stores_the_key_before_the_post_and_the_id_after_and_keeps_them_after_success(emulator: Any) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore(observe=lambda: len(posts(emulator, since)))
    ti = FakeTaskInstance()

    evolink_task_id = make_operator().execute(context_of(ti, store))

    [post] = posts(emulator, since)
    assert store.sets == [(STATE_SUBMISSION, 0), (STATE_TASK_ID, 1), (STATE_USAGE, 1)]
    assert post["idempotency_key"]
    assert post["task_id"] == evolink_task_id
    assert ti.xcoms.keys() == {"evolink_task_id", "evolink_usage", "evolink_submission"}
    assert ti.xcoms["evolink_task_id"] == evolink_task_id
    assert store.values[STATE_TASK_ID] == evolink_task_id
    assert store.values[STATE_USAGE]["credits_reserved"] == 40.5
    assert store.values[STATE_SUBMISSION]["idempotency_key"] == post["idempotency_key"]
    assert store.values[STATE_SUBMISSION]["try_sequence"] == 1
    assert store.cleared == 0


def test_a_kill_after_success_before_airflow_records_it_does_not_pay_twice(emulator: Any) -> None:
    # Issue 12: the operator used to clear its state inside execute; a kill between that and Airflow recording
    # the success made the retry submit (and pay for) a second task. Here the "retry" is the same try sequence.
    since = len(emulator.requests())
    store = FakeTaskStateStore()
    operator = make_operator(wait_for_completion=True, deferrable=False)

    first = operator.execute(context_of(FakeTaskInstance(), store))  # ... then SIGKILL before "success"
    retry = FakeTaskInstance()
    second = operator.execute(context_of(retry, store))

    assert first == second == retry.xcoms["evolink_task_id"]
    assert retry.xcoms["evolink_task"]["status"] == "completed"
    assert len(posts(emulator, since)) == 1


def test_a_manual_clear_starts_a_new_try_sequence_and_generates_anew(emulator: Any) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore()
    operator = make_operator(retries=2)

    first = operator.execute(context_of(FakeTaskInstance(max_tries=2), store))  # tries 1-3: sequence 1
    # A Clear after try 1 raises max_tries to try_number + retries = 3: the next try (2) starts sequence 2.
    cleared = operator.execute(context_of(FakeTaskInstance(max_tries=3), store))

    assert cleared != first
    assert len(posts(emulator, since)) == 2
    assert store.cleared == 1
    assert store.values[STATE_SUBMISSION]["try_sequence"] == 2


def test_submission_summary_carries_prompt_quality_and_reserved_credits_but_no_url(emulator: Any) -> None:
    ti = FakeTaskInstance()
    request = o3_request("x" * 300, quality="1080p", video_url=f"{emulator.base_url}/samples/reference.mp4?sig=s3cr3t")

    evolink_task_id = make_operator(request).execute(context_of(ti, FakeTaskStateStore()))

    summary = ti.xcoms["evolink_submission"]
    assert summary["evolink_task_id"] == evolink_task_id
    assert summary["prompt"] == "x" * 199 + "…"
    assert (summary["model"], summary["duration"], summary["quality"]) == (request["model"], 5, "1080p")
    assert summary["usage"] == ti.xcoms["evolink_usage"]  # the same credits, not a second reading
    assert summary["usage"]["billing_rule"] == "per_second"
    assert summary["usage"]["credits_reserved"] > 0
    assert "s3cr3t" not in repr(summary)
    assert "http" not in repr(summary)


def test_logs_the_estimate_then_the_reserved_credits_then_the_task_id(emulator: Any) -> None:
    with capture_logs() as logs:
        evolink_task_id = make_operator().execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    messages = [log["event"] for log in logs]
    estimate = next(i for i, m in enumerate(messages) if m.startswith("Estimated cost: 40.5 credits"))
    reserved = next(i for i, m in enumerate(messages) if m.startswith("EvoLink reserved 40.5 credits"))
    task_id = messages.index(f"EvoLink task ID: {evolink_task_id}")
    assert estimate < reserved < task_id


@pytest.mark.usefixtures("no_submission_store")
def test_without_a_task_state_store_it_warns_that_crash_recovery_is_off_and_submits(emulator: Any) -> None:
    with capture_logs() as logs:
        evolink_task_id = make_operator().execute(context_of(FakeTaskInstance(), None))

    assert evolink_task_id.startswith("task-unified-")
    assert any("crash recovery is off" in log["event"] for log in logs)


def test_a_rejected_api_key_fails_without_airflow_retries_and_without_leaking_it(
    emulator: Any, evolink_connection: Callable[..., str]
) -> None:
    evolink_connection(emulator.base_url, "sk-wrong-key", "evolink_badkey", max_retries=0)

    with pytest.raises(AirflowFailException, match="401") as raised:
        make_operator(evolink_conn_id="evolink_badkey").execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    assert "sk-wrong-key" not in str(raised.value)


# ---------------------------------------------------------------------------------- retries and crashes
def test_retry_reconnects_to_a_processing_task_instead_of_resubmitting(slow_emulator: Any, slow_conn_id: str) -> None:
    since = len(slow_emulator.requests())
    store = FakeTaskStateStore()
    operator = make_operator(evolink_conn_id=slow_conn_id, wait_for_completion=True, deferrable=False, timeout=0.2)
    first_try, second_try = FakeTaskInstance(), FakeTaskInstance()

    with pytest.raises(AirflowException, match="no cancel endpoint") as first_error:
        operator.execute(context_of(first_try, store))
    with pytest.raises(AirflowException, match="no cancel endpoint"):
        operator.execute(context_of(second_try, store))

    evolink_task_id = first_try.xcoms["evolink_task_id"]
    assert not isinstance(first_error.value, AirflowFailException)
    assert evolink_task_id in str(first_error.value)
    assert second_try.xcoms["evolink_task_id"] == evolink_task_id
    assert len(posts(slow_emulator, since)) == 1


def test_retry_after_a_crash_past_storing_the_id_finishes_the_completed_task_without_resubmitting(
    emulator: Any,
) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore()
    operator = make_operator(wait_for_completion=True, deferrable=True)

    with pytest.raises(SimulatedCrash):
        operator.execute(context_of(FakeTaskInstance(crash_on_push="evolink_task_id"), store))
    stored_id = store.values[STATE_TASK_ID]
    retry = FakeTaskInstance()
    evolink_task_id = operator.execute(context_of(retry, store))  # completed: nothing to defer for

    assert evolink_task_id == stored_id == retry.xcoms["evolink_task_id"]
    assert retry.xcoms["evolink_task"]["status"] == "completed"
    assert retry.xcoms["evolink_task"]["result_count"] == 1
    # The try that submitted stored the reservation: the reconnecting retry still reports it.
    assert retry.xcoms["evolink_task"]["usage"]["credits_reserved"] == 40.5
    assert len(posts(emulator, since)) == 1
    assert store.values[STATE_TASK_ID] == evolink_task_id


def test_a_crash_between_the_post_and_storing_the_id_still_yields_one_evolink_task(emulator: Any) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore(crash_on_set=(STATE_TASK_ID,))
    operator = make_operator()

    with pytest.raises(SimulatedCrash):
        operator.execute(context_of(FakeTaskInstance(), store))
    assert STATE_TASK_ID not in store.values
    evolink_task_id = operator.execute(context_of(FakeTaskInstance(), store))

    first, second = posts(emulator, since)
    assert first["idempotency_key"] == second["idempotency_key"]
    assert first["task_id"] == second["task_id"] == evolink_task_id


def test_retry_after_a_retryable_task_failure_resubmits_with_a_new_key(emulator: Any) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore()
    operator = make_operator(
        o3_request(f"a fox [fail-once:service_error] {uuid.uuid4().hex[:8]}"),
        wait_for_completion=True,
        deferrable=False,
    )

    with pytest.raises(AirflowException, match="service_error") as failure:
        operator.execute(context_of(FakeTaskInstance(), store))
    evolink_task_id = operator.execute(context_of(FakeTaskInstance(), store))

    first, second = posts(emulator, since)
    assert not isinstance(failure.value, AirflowFailException)
    assert first["idempotency_key"] != second["idempotency_key"]
    assert first["task_id"] != second["task_id"] == evolink_task_id


def test_a_non_retryable_task_failure_fails_without_airflow_retries(emulator: Any) -> None:
    operator = make_operator(
        o3_request("a fox [fail:content_policy_violation]"), wait_for_completion=True, deferrable=False
    )

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))


def test_a_request_changed_since_the_stored_submission_is_submitted_as_a_new_task(emulator: Any) -> None:
    since = len(emulator.requests())
    store = FakeTaskStateStore(crash_on_set=(STATE_TASK_ID,))

    with pytest.raises(SimulatedCrash):
        make_operator(o3_request()).execute(context_of(FakeTaskInstance(), store))
    make_operator(o3_request()).execute(context_of(FakeTaskInstance(), store))

    first, second = posts(emulator, since)
    assert first["idempotency_key"] != second["idempotency_key"]
    assert second["status"] == 200


# ----------------------------------------------------------------------------------------------- waiting
def test_deferrable_wait_defers_with_an_absolute_deadline_and_a_later_backstop(emulator: Any) -> None:
    store = FakeTaskStateStore()
    ti = FakeTaskInstance()
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        make_operator(wait_for_completion=True, deferrable=True, timeout=600).execute(context_of(ti, store))

    trigger = deferred.value.trigger
    assert isinstance(trigger, EvoLinkTaskTrigger)
    assert trigger.evolink_task_id == ti.xcoms["evolink_task_id"] == store.values[STATE_TASK_ID]
    assert before + 600 <= trigger.end_time <= time.time() + 600
    assert deferred.value.timeout == timedelta(seconds=600 + DEFER_BACKSTOP_SECONDS)
    assert deferred.value.method_name == "execute_complete"


@pytest.mark.parametrize("adaptive_polling", [True, False])
def test_deferrable_wait_hands_the_create_answers_estimate_and_the_switch_to_the_trigger(
    slow_conn_id: str, adaptive_polling: bool
) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        make_operator(
            evolink_conn_id=slow_conn_id, wait_for_completion=True, deferrable=True, adaptive_polling=adaptive_polling
        ).execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    trigger = deferred.value.trigger
    assert (trigger.estimated_time, trigger.adaptive_polling) == (60.0, adaptive_polling)  # the slow emulator's


def test_sync_wait_reads_less_often_than_the_interval_while_the_estimate_is_far_unless_switched_off(
    slow_emulator: Any, slow_conn_id: str
) -> None:
    def reads_in_one_second(adaptive_polling: bool) -> int:
        since = len(slow_emulator.requests())
        operator = make_operator(
            evolink_conn_id=slow_conn_id,
            wait_for_completion=True,
            deferrable=False,
            timeout=1.0,
            poll_interval=0.05,
            adaptive_polling=adaptive_polling,
        )
        with pytest.raises(AirflowException, match="still running at the timeout deadline"):
            operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))
        return sum(1 for entry in slow_emulator.requests()[since:] if entry["method"] == "GET")

    # 60 s estimated, progress 0: a read every 2.5 intervals (0.125 s), against every 0.05 s.
    paced, fixed = reads_in_one_second(True), reads_in_one_second(False)

    assert paced <= 10
    assert fixed >= 1.4 * paced


def test_sync_wait_pushes_the_completed_detail_and_returns_the_id(emulator: Any) -> None:
    store = FakeTaskStateStore()
    ti = FakeTaskInstance()

    evolink_task_id = make_operator(wait_for_completion=True, deferrable=False).execute(context_of(ti, store))

    assert ti.xcoms["evolink_task_id"] == evolink_task_id
    assert ti.xcoms["evolink_task"]["id"] == evolink_task_id
    assert ti.xcoms["evolink_task"]["status"] == "completed"
    assert store.values[STATE_TASK_ID] == evolink_task_id


# ---------------------------------------------------------------------------------------------- credits
RESERVED_40_5 = {
    "billing_rule": "per_second",
    "credits_reserved": 40.5,  # 8.1 credits/s x 5 s, as the emulator's create answer reserves
    "credits_used": None,
    "credits_refunded": None,
    "refunded": False,
    "credits": 40.5,
    "credits_estimated": 40.5,  # the emulator's price list agrees with what it reserves
    "estimate_source": "price_list",
    "estimate_basis": "Kling O3 reference-to-video: 8.1 credits per second × 5 s",
}


def test_submitting_pushes_the_reserved_credits_as_usage(emulator: Any) -> None:
    ti = FakeTaskInstance()

    make_operator().execute(context_of(ti, FakeTaskStateStore()))

    assert ti.xcoms["evolink_usage"] == RESERVED_40_5


def test_a_completed_wait_adds_usage_to_the_task_detail_xcom(emulator: Any) -> None:
    ti = FakeTaskInstance()

    make_operator(wait_for_completion=True, deferrable=False).execute(context_of(ti, FakeTaskStateStore()))

    assert ti.xcoms["evolink_task"]["usage"] == RESERVED_40_5
    assert ti.xcoms["evolink_usage"] == RESERVED_40_5


def test_a_resumed_deferral_reads_the_reservation_back_from_the_task_state_store(emulator: Any) -> None:
    store, deferring = FakeTaskStateStore(), FakeTaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        make_operator(wait_for_completion=True, deferrable=True).execute(context_of(deferring, store))
    evolink_task_id = deferred.value.trigger.evolink_task_id
    event = EvoLinkTaskEvent("success", evolink_task_id, message="completed").to_payload()
    ti = FakeTaskInstance()
    ti.xcoms.update(deferring.xcoms)  # the task instance's XComs outlive a deferral

    # A new operator object, as on the worker that resumes the task: only the store remembers the reservation,
    # XCom the estimate made before submitting.
    make_operator(wait_for_completion=True, deferrable=True).execute_complete(context_of(ti, store), event)

    assert ti.xcoms["evolink_task"]["usage"] == RESERVED_40_5


def test_a_failed_task_records_that_its_credits_were_refunded(emulator: Any) -> None:
    ti = FakeTaskInstance()
    request = o3_request(f"a storm [fail:content_policy_violation] {uuid.uuid4().hex[:8]}")

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        make_operator(request, wait_for_completion=True, deferrable=False).execute(context_of(ti, FakeTaskStateStore()))

    assert ti.xcoms["evolink_usage"] == {
        **RESERVED_40_5,
        "credits_refunded": 40.5,
        "refunded": True,
        "credits": 0.0,
    }
    assert "evolink_task" not in ti.xcoms


# ------------------------------------------------------------------------------------- execute_complete
@pytest.mark.usefixtures("no_submission_store")
def test_execute_complete_on_success_rereads_the_detail_pushes_it_and_keeps_the_state(emulator: Any) -> None:
    evolink_task_id = make_operator().execute(context_of(FakeTaskInstance(), None))
    store = FakeTaskStateStore()
    store.set(STATE_TASK_ID, evolink_task_id)
    ti = FakeTaskInstance()
    event = EvoLinkTaskEvent("success", evolink_task_id, message="completed").to_payload()

    assert make_operator().execute_complete(context_of(ti, store), event) == evolink_task_id
    assert ti.xcoms["evolink_task"]["result_count"] == 1
    assert store.values == {STATE_TASK_ID: evolink_task_id}


def test_the_completed_detail_in_xcom_has_the_usage_and_no_signed_link(emulator: Any) -> None:
    ti = FakeTaskInstance()

    make_operator(wait_for_completion=True, deferrable=False).execute(context_of(ti, FakeTaskStateStore()))

    detail = ti.xcoms["evolink_task"]
    assert set(detail) == {"id", "model", "status", "progress", "created", "result_count", "task_info", "usage"}
    assert detail["usage"]["credits_reserved"] == 40.5  # 5 s at 720p
    assert detail["usage"]["billing_rule"]
    assert "sig=" not in json.dumps(detail)
    assert "expires=" not in json.dumps(detail)


def test_the_docs_document_the_completed_detail_as_it_is(emulator: Any) -> None:
    import ast

    page = (Path(__file__).resolve().parents[2] / "docs" / "xcom.md").read_text()
    example = page.split("The completed task detail:\n\n```python\n", 1)[1].split("```", 1)[0]
    documented = ast.literal_eval(example)
    ti = FakeTaskInstance()

    make_operator(wait_for_completion=True, deferrable=False).execute(context_of(ti, FakeTaskStateStore()))

    actual = ti.xcoms["evolink_task"]
    assert set(documented) == set(actual)
    assert set(documented["usage"]) == set(actual["usage"])
    assert set(documented["task_info"]) == set(actual["task_info"])


def test_a_resumed_deferral_reports_the_usage_its_submitting_try_stored(emulator: Any) -> None:
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred) as deferred:
        make_operator(wait_for_completion=True, deferrable=True).execute(context_of(FakeTaskInstance(), store))
    evolink_task_id = deferred.value.trigger.evolink_task_id
    assert store.values[STATE_USAGE]["credits_reserved"] == 40.5
    resumed = FakeTaskInstance()
    event = EvoLinkTaskEvent("success", evolink_task_id, message="completed").to_payload()

    make_operator(wait_for_completion=True, deferrable=True).execute_complete(context_of(resumed, store), event)

    assert resumed.xcoms["evolink_task"]["usage"]["credits_reserved"] == 40.5


def test_the_submission_log_names_the_prompt_shortened(emulator: Any) -> None:
    prompt = "A lighthouse at dawn, slow dolly in " + "x" * 400
    with capture_logs() as logs:
        make_operator(o3_request(prompt)).execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    (line,) = [log["event"] for log in logs if log["event"].startswith("Submitting a kling-o3-reference-to-video")]
    assert "prompt 'A lighthouse at dawn, slow dolly in xxx" in line
    assert len(line) < 300


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            EvoLinkTaskEvent("failed", "task-unified-1", "content_policy_violation", False, "blocked"),
            AirflowFailException,
        ),
        (EvoLinkTaskEvent("failed", "task-unified-1", "service_error", True, "busy"), AirflowException),
        (EvoLinkTaskEvent("cancelled", "task-unified-1", None, False, "cancelled"), AirflowFailException),
        (EvoLinkTaskEvent.timed_out("task-unified-1", time.time()), AirflowException),
        (EvoLinkTaskEvent("error", "task-unified-1", "task_not_found", False, "404"), AirflowFailException),
        (EvoLinkTaskEvent("error", "task-unified-1", "network_error", True, "dropped"), AirflowException),
    ],
    ids=["failed", "failed-retryable", "cancelled", "timeout", "error", "error-retryable"],
)
def test_execute_complete_maps_each_outcome_to_its_airflow_exception(
    event: EvoLinkTaskEvent, expected: type[Exception]
) -> None:
    store = FakeTaskStateStore()
    store.set(STATE_TASK_ID, event.evolink_task_id)

    with pytest.raises(AirflowException, match=event.message[:20]) as raised:
        make_operator().execute_complete(context_of(FakeTaskInstance(), store), event.to_payload())

    assert type(raised.value) is expected
    assert store.values == {STATE_TASK_ID: event.evolink_task_id}


def test_execute_complete_timeout_says_evolink_cannot_cancel_and_names_the_task() -> None:
    event = EvoLinkTaskEvent.timed_out("task-unified-1", time.time()).to_payload()

    with pytest.raises(AirflowException, match="no cancel endpoint: task task-unified-1 may still complete"):
        make_operator().execute_complete(context_of(FakeTaskInstance(), None), event)


@pytest.mark.parametrize("event", [None, {"status": "finished", "evolink_task_id": "task-unified-1"}])
def test_execute_complete_refuses_a_missing_or_unknown_event(event: Any) -> None:
    with pytest.raises(AirflowException, match="EvoLink trigger"):
        make_operator().execute_complete(context_of(FakeTaskInstance(), None), event)


# ------------------------------------------------------------------------- destinations before paying
def dag_with_save(destination: str, *, mapped: bool) -> EvoLinkGenerateVideoOperator:
    """A DAG ``generate >> save`` (``save`` plain or mapped over the generated IDs); returns ``generate``."""
    from airflow.sdk import DAG

    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    with DAG(f"preflight_{uuid.uuid4().hex[:8]}", schedule=None):
        generate = make_operator()
        if mapped:
            EvoLinkToStorageOperator.partial(task_id="save", destination=destination).expand(
                evolink_task_id=generate.output
            )
        else:
            generate >> EvoLinkToStorageOperator(
                task_id="save", evolink_task_id="{{ ti.xcom_pull('generate') }}", destination=destination
            )
    return generate


@pytest.mark.parametrize("mapped", [False, True], ids=["plain", "mapped"])
def test_a_save_task_whose_rendered_destination_cannot_work_is_refused_before_the_post(
    emulator: Any, mapped: bool
) -> None:
    since = len(emulator.requests())
    generate = dag_with_save("{{ params.destination }}/{{ run_id }}", mapped=mapped)
    context = {**context_of(FakeTaskInstance(), FakeTaskStateStore()), "params": {"destination": "not a uri"}}

    with pytest.raises(AirflowFailException, match=r"task 'save' could not store the video: .*nothing was submitted"):
        generate.execute(context | {"run_id": "manual__1"})
    assert posts(emulator, since) == []


def test_destinations_only_the_save_task_can_know_are_left_to_it(emulator: Any) -> None:
    since = len(emulator.requests())
    generate = dag_with_save("{{ ti.xcom_pull('where') }}", mapped=False)

    generate.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    assert len(posts(emulator, since)) == 1


# --------------------------------------------------------------------------------------- real dag.test()
@pytest.fixture(scope="module")
def dag_run(emulator: Any, evolink_connection_json: Callable[..., str]) -> Iterator[DagTestRun]:
    """One ``dag.test()`` of ``dags/evolink_submit_and_wait.py`` against an emulator that takes 15 s per task.

    15 s outlasts the first sensor check, even where each submission writes its store through the API (Airflow
    3.1/3.2), so the sensor defers and ``dag.test()`` runs the trigger inline.
    Depends on the session ``emulator`` so its connection is set first and restored afterwards.
    """
    from airflow import settings
    from airflow.sdk.definitions import dag as dag_module
    from airflow.utils.db import initdb
    from airflow_names import DagBag

    from airflow_provider_evolink.compat import AIRFLOW_V_3_3_PLUS
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    if AIRFLOW_V_3_3_PLUS:
        from airflow.sdk.execution_time.context import TaskStateStoreAccessor as store_class
    else:  # the Variable store of Airflow 3.1/3.2 (airflow_provider_evolink/state_store.py)
        from airflow_provider_evolink.state_store import _DocumentStore as store_class

    recorded = DagTestRun(run=None, emulator=None)
    run_inline_trigger = dag_module._run_inline_trigger
    store_set = store_class.set

    def recording_run_inline_trigger(trigger: Any, ti: Any) -> Any:
        recorded.triggers.append(trigger)
        return run_inline_trigger(trigger, ti)

    def recording_store_set(self: Any, key: str, value: Any, **kwargs: Any) -> None:
        recorded.stored_keys.append(key)
        store_set(self, key, value, **kwargs)

    with EvoLinkEmulator(processing_seconds=15.0) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_EVOLINK_DEFAULT", evolink_connection_json(emu.base_url, emu.api_key, max_retries=0))
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
        patch.setattr(settings, "DAGS_FOLDER", str(DAGS))
        patch.setattr(dag_module, "_run_inline_trigger", recording_run_inline_trigger)
        patch.setattr(store_class, "set", recording_store_set)
        initdb()
        dag = DagBag(dag_folder=str(DAGS)).get_dag("evolink_submit_and_wait")
        recorded.emulator = emu
        recorded.run = dag.test()
        yield recorded


def xcom_values(dag_run: Any, task_id: str, key: str = "return_value") -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, key=key, task_ids=task_id)).all()
        return [XComModel.deserialize_value(row) for row in sorted(rows, key=lambda row: row.map_index)]


def test_dag_test_runs_mapped_submissions_then_deferrable_sensors_to_success(dag_run: DagTestRun) -> None:
    run, emu, triggers = dag_run.run, dag_run.emulator, dag_run.triggers

    assert run.state == "success"
    assert {(ti.task_id, ti.map_index, ti.state) for ti in run.get_task_instances()} == {
        ("generate", 0, "success"),
        ("generate", 1, "success"),
        ("wait", 0, "success"),
        ("wait", 1, "success"),
    }
    evolink_task_ids = xcom_values(run, "generate")
    assert len(set(evolink_task_ids)) == 2
    assert xcom_values(run, "generate", "evolink_task_id") == evolink_task_ids
    assert [detail["id"] for detail in xcom_values(run, "wait")] == evolink_task_ids
    assert all(detail["status"] == "completed" and detail["result_count"] for detail in xcom_values(run, "wait"))
    assert len(posts(emu)) == 2
    assert triggers, "the sensor never deferred"
    assert all(isinstance(trigger, EvoLinkTaskTrigger) for trigger in triggers)


@pytest.mark.airflow_min("3.3", reason="task_state_store")
def test_dag_test_provides_a_task_state_store_kept_after_success_for_its_try_sequence(dag_run: DagTestRun) -> None:
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskStateStoreModel).filter_by(run_id=dag_run.run.run_id).count()

    assert sorted(dag_run.stored_keys) == sorted([STATE_SUBMISSION, STATE_TASK_ID, STATE_USAGE] * 2)
    assert rows == 6  # the key, the task ID and the usage of both mapped task instances, until a Clear


@pytest.mark.airflow_below("3.3", reason="Airflow 3.3+ keeps the submission in task_state_store")
def test_dag_test_below_airflow_3_3_keeps_each_submission_in_a_variable_after_success(dag_run: DagTestRun) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        # val is None for a Variable another process of the session wrote (unit test mode: a Fernet key per process).
        variables = [v for v in session.query(Variable) if v.key.startswith("evolink_submission_")]
        stored = [json.loads(v.val) for v in variables if v.val is not None]

    assert sorted(dag_run.stored_keys) == sorted([STATE_SUBMISSION, STATE_TASK_ID, STATE_USAGE] * 2)
    assert sorted(
        v["task_instance"]["map_index"] for v in stored if v["task_instance"]["run_id"] == dag_run.run.run_id
    ) == [0, 1]
