"""execution_timeout bounds every wait: deferred ones end at it as waits in a worker do.

Time-scaled: limits of one or two seconds, against an emulator whose tasks stay processing for a minute.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_names import TaskDeferred
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of

from airflow_provider_evolink.compat import AirflowTaskTimeout
from airflow_provider_evolink.deadlines import WaitDeadline
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.triggers.evolink import DEFER_BACKSTOP_SECONDS, EvoLinkTaskTrigger

DAGS = Path(__file__).parent / "dags"
#: The task's limit in these tests; the slow emulator's tasks take 60 s and the waits' own timeout is 600 s.
EXECUTION_TIMEOUT = timedelta(seconds=1.5)


def o3_request() -> dict[str, Any]:
    return {"model": "kling-o3-reference-to-video", "prompt": f"a fox {uuid.uuid4().hex[:8]}", "duration": 5}


def generate(conn_id: str, **kwargs: Any) -> EvoLinkGenerateVideoOperator:
    return EvoLinkGenerateVideoOperator(
        task_id="generate", request=o3_request(), evolink_conn_id=conn_id, poll_interval=0.2, timeout=600, **kwargs
    )


def run_trigger(trigger: EvoLinkTaskTrigger) -> dict[str, Any]:
    async def first_event() -> dict[str, Any]:
        event = await anext(aiter(trigger.run()))
        return event.payload  # type: ignore[no-any-return]

    return asyncio.run(first_event())


# ------------------------------------------------------------------------------------------- the deadline
def test_without_execution_timeout_the_deadline_is_the_waits_own_timeout() -> None:
    before = time.time()
    deadline = WaitDeadline.of(generate("evolink_default"), 600, context_of(FakeTaskInstance(), None))

    assert deadline.source == "timeout"
    assert before + 600 <= deadline.end_time <= time.time() + 600
    assert deadline.defer_timeout == timedelta(seconds=600 + DEFER_BACKSTOP_SECONDS)


def test_execution_timeout_counts_from_the_start_of_the_try_and_wins_when_earlier() -> None:
    started = datetime.now(UTC) - timedelta(minutes=4)
    task = generate("evolink_default", execution_timeout=timedelta(minutes=10))

    deadline = WaitDeadline.of(task, 3600, context_of(FakeTaskInstance(start_date=started), None))

    assert deadline.source == "execution_timeout"
    assert deadline.end_time == pytest.approx((started + timedelta(minutes=10)).timestamp(), abs=0.01)
    assert deadline.defer_timeout.total_seconds() == pytest.approx(6 * 60 + DEFER_BACKSTOP_SECONDS, abs=1)


def test_a_later_execution_timeout_leaves_the_waits_own_timeout() -> None:
    task = generate("evolink_default", execution_timeout=timedelta(hours=2))

    deadline = WaitDeadline.of(task, 3600, context_of(FakeTaskInstance(), None))

    assert deadline.source == "timeout"
    assert deadline.seconds == 3600


# ------------------------------------------------------------------------- deferred waits fail at it
def test_a_deferred_generate_fails_at_execution_timeout_not_at_its_timeout(slow_conn_id: str) -> None:
    operator = generate(slow_conn_id, wait_for_completion=True, deferrable=True, execution_timeout=EXECUTION_TIMEOUT)
    ti, store = FakeTaskInstance(), FakeTaskStateStore()
    started = ti.start_date.timestamp()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context_of(ti, store))
    event = run_trigger(deferred.value.trigger)

    assert time.time() - started == pytest.approx(EXECUTION_TIMEOUT.total_seconds(), abs=1.0)
    assert (event["status"], event["error_code"]) == ("timeout", "execution_timeout")
    with pytest.raises(AirflowTaskTimeout, match="still running at the execution_timeout deadline"):
        operator.execute_complete(context_of(ti, store), event)


def test_a_deferred_sensor_fails_at_execution_timeout_even_with_soft_fail(slow_conn_id: str) -> None:
    evolink_task_id = generate(slow_conn_id).execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))
    sensor = EvoLinkTaskSensor(
        task_id="wait",
        evolink_task_id=evolink_task_id,
        evolink_conn_id=slow_conn_id,
        deferrable=True,
        poke_interval=0.2,
        timeout=600,
        soft_fail=True,
        execution_timeout=EXECUTION_TIMEOUT,
    )
    ti = FakeTaskInstance()
    started = ti.start_date.timestamp()

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context_of(ti, None))
    event = run_trigger(deferred.value.trigger)

    assert time.time() - started == pytest.approx(EXECUTION_TIMEOUT.total_seconds(), abs=1.0)
    with pytest.raises(AirflowTaskTimeout, match=evolink_task_id):
        sensor.execute_complete(context_of(ti, None), event)


def test_the_trigger_keeps_which_limit_set_its_deadline_across_serialisation() -> None:
    trigger = EvoLinkTaskTrigger(
        "task-unified-1", "evolink_default", 8.0, time.time(), deadline_from="execution_timeout"
    )

    _, kwargs = trigger.serialize()

    assert EvoLinkTaskTrigger(**kwargs).deadline_from == "execution_timeout"
    with pytest.raises(ValueError, match="deadline_from"):
        EvoLinkTaskTrigger("task-unified-1", "evolink_default", 8.0, time.time(), deadline_from="soon")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- in Airflow, every mode
@pytest.fixture(scope="module")
def timed_out_run(slow_emulator: Any, evolink_connection_json: Callable[..., str]) -> Any:
    """One ``dag.test()`` of ``dags/evolink_execution_timeout.py`` (three waits, ``execution_timeout`` 1.5 s)."""
    from airflow import settings
    from airflow.utils.db import initdb
    from airflow_names import DagBag

    with pytest.MonkeyPatch.context() as patch:
        conn = evolink_connection_json(slow_emulator.base_url, slow_emulator.api_key, max_retries=0)
        patch.setenv("AIRFLOW_CONN_EVOLINK_SLOW", conn)
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
        patch.setattr(settings, "DAGS_FOLDER", str(DAGS))
        initdb()
        return DagBag(dag_folder=str(DAGS)).get_dag("evolink_execution_timeout").test()


@pytest.mark.parametrize("task_id", ["in_worker", "deferred", "sensor"])
def test_in_airflow_each_wait_fails_at_execution_timeout(timed_out_run: Any, task_id: str) -> None:
    (ti,) = [ti for ti in timed_out_run.get_task_instances() if ti.task_id == task_id]

    assert ti.state == "failed"
    assert (ti.end_date - ti.start_date).total_seconds() < 15  # 1.5 s and the task's start-up, not 60 s or 600 s
