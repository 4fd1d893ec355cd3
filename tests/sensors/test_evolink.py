"""EvoLinkTaskSensor: poke, reschedule and deferrable waits, and how each task outcome ends the sensor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from airflow.sdk import PokeReturnValue
from airflow_names import AirflowRescheduleException, AirflowSkipException, TaskDeferred
from fakes import VirtualTime
from structlog.testing import capture_logs

from airflow_provider_evolink.compat import AirflowException, AirflowFailException, AirflowSensorTimeout
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.triggers.evolink import DEFER_BACKSTOP_SECONDS, EvoLinkTaskEvent, EvoLinkTaskTrigger

MOCK_URL = "https://evolink.test"
MOCK_TASK_ID = "task-unified-1700000000-mocked01"


def make_sensor(evolink_task_id: str, **kwargs: Any) -> EvoLinkTaskSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 60)
    return EvoLinkTaskSensor(task_id="wait", evolink_task_id=evolink_task_id, **kwargs)


def create_task(prompt: str = "a red fox in the snow") -> str:
    hook = EvoLinkHook()
    try:
        return hook.create_video_generation(
            {"model": "kling-o3-reference-to-video", "prompt": prompt, "duration": 5}
        ).id
    finally:
        hook.close()


@pytest.fixture
def mocked_api(evolink_connection: Callable[..., str]) -> Iterator[respx.MockRouter]:
    """``evolink_mock`` points at a respx-mocked API, for states the emulator does not produce on demand."""
    evolink_connection(MOCK_URL, "sk-mock", "evolink_mock", max_retries=0)
    with respx.mock(base_url=MOCK_URL, assert_all_called=False) as router:
        yield router


def task_answers(router: respx.MockRouter, **detail: Any) -> None:
    router.get(f"/v1/tasks/{MOCK_TASK_ID}").respond(200, json={"id": MOCK_TASK_ID, **detail})


class RescheduleTaskInstance:
    """The ``ti`` a reschedule-mode sensor asks when it was first rescheduled (never, here)."""

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


# ------------------------------------------------------------------------------------------------- poke
def test_poke_on_a_completed_task_is_done_with_the_detail_dict(emulator: Any) -> None:
    evolink_task_id = create_task()

    result = make_sensor(evolink_task_id).poke({})

    assert isinstance(result, PokeReturnValue)
    assert result.is_done
    assert result.xcom_value["id"] == evolink_task_id
    assert result.xcom_value["status"] == "completed"
    assert result.xcom_value["result_count"] == 1
    # No signed result link in XCom: it is stored in plain text and shown to anyone who can read the DAG.
    assert "results" not in result.xcom_value
    assert "sig=" not in json.dumps(result.xcom_value)


def test_poke_on_a_processing_task_is_not_done_and_logs_progress(mocked_api: respx.MockRouter) -> None:
    task_answers(mocked_api, status="processing", progress=40, task_info={"estimated_time": 180})

    with capture_logs() as logs:
        result = make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock").poke({})

    assert not result.is_done
    assert f"EvoLink task {MOCK_TASK_ID}: processing, progress 40%, ~180 s estimated" in [log["event"] for log in logs]


@pytest.mark.parametrize(
    ("code", "retryable_note"),
    [("content_policy_violation", "(not retryable)"), ("service_error", "(retryable)")],
)
def test_a_failed_task_fails_the_sensor_without_retries_with_code_and_message(
    emulator: Any, code: str, retryable_note: str
) -> None:
    evolink_task_id = create_task(f"a fox [fail:{code}]")

    with pytest.raises(AirflowFailException, match=rf"failed \[{code}\]: .+{retryable_note}"):
        make_sensor(evolink_task_id).poke({})


def test_soft_fail_skips_on_a_failed_task(emulator: Any) -> None:
    evolink_task_id = create_task("a fox [fail:content_policy_violation]")

    with pytest.raises(AirflowSkipException):
        make_sensor(evolink_task_id, soft_fail=True).execute({})


def test_a_cancelled_task_is_terminal(mocked_api: respx.MockRouter) -> None:
    task_answers(mocked_api, status="cancelled")

    with pytest.raises(AirflowFailException, match="cancelled"):
        make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock").poke({})


def test_an_unknown_task_fails_at_once(emulator: Any) -> None:
    with pytest.raises(AirflowFailException, match="could not read EvoLink task"):
        make_sensor("task-unified-0-doesnotexist").poke({})


def test_pokes_outlast_an_outage_then_succeed(
    mocked_api: respx.MockRouter, virtual_time: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12: one transient error after the hook's retries used to fail the sensor (it had no Airflow retries).
    storm = [httpx.Response(503)] * 30
    done = httpx.Response(200, json={"id": MOCK_TASK_ID, "status": "completed", "results": ["https://cdn.test/v.mp4"]})
    route = mocked_api.get(f"/v1/tasks/{MOCK_TASK_ID}").mock(side_effect=[*storm, done])
    sensor = make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock", poke_interval=30)
    # Between pokes BaseSensorOperator sleeps poke_interval (30 s): on virtual time, as the provider's own waits.
    monkeypatch.setattr(time, "sleep", virtual_time.sleep)

    detail = sensor.execute({})

    assert detail["status"] == "completed"
    assert route.call_count == 31  # 15 minutes of 503s, read every 30 s


def test_a_poke_outage_longer_than_the_tolerance_fails_retryably(
    mocked_api: respx.MockRouter, virtual_time: VirtualTime
) -> None:
    mocked_api.get(f"/v1/tasks/{MOCK_TASK_ID}").respond(503)
    sensor = make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock")

    for _ in range(3):
        assert sensor.poke({}).is_done is False
        virtual_time.sleep(400)
    with pytest.raises(AirflowException, match="gave up after failing for 1200 s") as excinfo:
        sensor.poke({})
    assert not isinstance(excinfo.value, AirflowFailException)


def test_reschedule_mode_gives_the_slot_back_while_the_task_runs(mocked_api: respx.MockRouter) -> None:
    task_answers(mocked_api, status="pending")

    with pytest.raises(AirflowRescheduleException):
        make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock", mode="reschedule").execute(
            {"ti": RescheduleTaskInstance()}
        )


def reschedule_delay(sensor: EvoLinkTaskSensor) -> float:
    """Seconds until the reschedule date a reschedule-mode sensor asked for after one poke."""
    with pytest.raises(AirflowRescheduleException) as rescheduled:
        sensor.execute({"ti": RescheduleTaskInstance()})
    return (rescheduled.value.reschedule_date - datetime.now(UTC)).total_seconds()


def test_reschedule_mode_comes_back_when_progress_says_not_every_poke_interval(mocked_api: respx.MockRouter) -> None:
    # 30 % done 100 s after creation: ~233 s left, half of it capped at 6 poke intervals (48 s ± 10 %).
    task_answers(mocked_api, status="processing", progress=30, created=int(time.time()) - 100)

    paced = reschedule_delay(
        make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock", mode="reschedule", poke_interval=8)
    )
    fixed = reschedule_delay(
        make_sensor(
            MOCK_TASK_ID, evolink_conn_id="evolink_mock", mode="reschedule", poke_interval=8, adaptive_polling=False
        )
    )

    assert 48 * 0.9 - 1 <= paced <= 48 * 1.1
    assert 8 - 1 <= fixed <= 8


# ------------------------------------------------------------------------------------------- deferrable
def test_deferrable_sensor_defers_to_the_trigger_while_the_task_runs(mocked_api: respx.MockRouter) -> None:
    task_answers(mocked_api, status="processing", progress=10)
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        make_sensor(
            MOCK_TASK_ID, evolink_conn_id="evolink_mock", deferrable=True, poke_interval=8, timeout=900
        ).execute({})

    trigger = deferred.value.trigger
    assert isinstance(trigger, EvoLinkTaskTrigger)
    assert (trigger.evolink_task_id, trigger.evolink_conn_id, trigger.poll_interval) == (
        MOCK_TASK_ID,
        "evolink_mock",
        8.0,
    )
    assert before + 900 <= trigger.end_time <= time.time() + 900
    assert (trigger.estimated_time, trigger.adaptive_polling) == (None, True)
    assert deferred.value.timeout == timedelta(seconds=900 + DEFER_BACKSTOP_SECONDS)
    assert deferred.value.method_name == "execute_complete"


def test_deferrable_sensor_hands_the_estimate_and_the_fixed_interval_switch_to_the_trigger(
    mocked_api: respx.MockRouter,
) -> None:
    task_answers(mocked_api, status="processing", progress=10, task_info={"estimated_time": 300})

    with pytest.raises(TaskDeferred) as deferred:
        make_sensor(MOCK_TASK_ID, evolink_conn_id="evolink_mock", deferrable=True, adaptive_polling=False).execute({})

    assert (deferred.value.trigger.estimated_time, deferred.value.trigger.adaptive_polling) == (300.0, False)


def test_deferrable_sensor_returns_at_once_for_a_completed_task(emulator: Any) -> None:
    evolink_task_id = create_task()

    detail = make_sensor(evolink_task_id, deferrable=True).execute({})

    assert detail["id"] == evolink_task_id
    assert detail["status"] == "completed"


def test_execute_complete_rereads_the_detail_the_event_left_out(emulator: Any) -> None:
    evolink_task_id = create_task()
    event = EvoLinkTaskEvent("success", evolink_task_id, message="completed").to_payload()

    detail = make_sensor(evolink_task_id, deferrable=True).execute_complete({}, event)

    assert detail["id"] == evolink_task_id
    assert detail["result_count"] == 1
    assert "sig=" not in json.dumps(detail)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (EvoLinkTaskEvent.timed_out(MOCK_TASK_ID, time.time()), AirflowSensorTimeout),
        (EvoLinkTaskEvent("failed", MOCK_TASK_ID, "service_error", True, "busy"), AirflowFailException),
        (EvoLinkTaskEvent("cancelled", MOCK_TASK_ID, None, False, "cancelled"), AirflowFailException),
        (EvoLinkTaskEvent("error", MOCK_TASK_ID, "unauthorized", False, "401"), AirflowFailException),
        (EvoLinkTaskEvent("error", MOCK_TASK_ID, "network_error", True, "dropped"), AirflowException),
    ],
    ids=["timeout", "failed-retryable", "cancelled", "error", "error-retryable"],
)
def test_execute_complete_maps_each_outcome_to_its_airflow_exception(
    event: EvoLinkTaskEvent, expected: type[Exception]
) -> None:
    with pytest.raises(AirflowException) as raised:
        make_sensor(MOCK_TASK_ID, deferrable=True).execute_complete({}, event.to_payload())

    assert type(raised.value) is expected


@pytest.mark.parametrize("event", [None, {"status": "done", "evolink_task_id": MOCK_TASK_ID}])
def test_execute_complete_refuses_a_missing_or_unknown_event(event: Any) -> None:
    with pytest.raises(AirflowException, match="EvoLink trigger"):
        make_sensor(MOCK_TASK_ID, deferrable=True).execute_complete({}, event)


def test_soft_fail_skips_when_the_trigger_timed_out() -> None:
    event = EvoLinkTaskEvent.timed_out(MOCK_TASK_ID, time.time()).to_payload()

    with pytest.raises(AirflowSkipException):
        make_sensor(MOCK_TASK_ID, deferrable=True, soft_fail=True).resume_execution(
            "execute_complete", {"event": event}, {}
        )
