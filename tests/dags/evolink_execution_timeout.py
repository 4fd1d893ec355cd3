"""Three waits with ``execution_timeout`` 1.5 s against tasks that take a minute (``tests/test_deadlines.py``):
a generate waiting in a worker, a deferred generate, and a deferred sensor on a submitted task."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor

EXECUTION_TIMEOUT = timedelta(seconds=1.5)


def o3_request() -> dict[str, object]:
    return {"model": "kling-o3-reference-to-video", "prompt": f"a fox {uuid.uuid4().hex[:8]}", "duration": 5}


with DAG("evolink_execution_timeout", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    limits = {"evolink_conn_id": "evolink_slow", "execution_timeout": EXECUTION_TIMEOUT, "timeout": 600}
    EvoLinkGenerateVideoOperator(
        task_id="in_worker",
        request=o3_request(),
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.2,
        **limits,
    )
    EvoLinkGenerateVideoOperator(
        task_id="deferred", request=o3_request(), wait_for_completion=True, deferrable=True, poll_interval=0.2, **limits
    )
    submit = EvoLinkGenerateVideoOperator(task_id="submit", request=o3_request(), evolink_conn_id="evolink_slow")
    submit >> EvoLinkTaskSensor(
        task_id="sensor",
        evolink_task_id="{{ ti.xcom_pull('submit') }}",
        deferrable=True,
        poke_interval=0.2,
        **limits,
    )
