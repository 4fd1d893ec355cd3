"""Many EvoLink waits deferred to the triggerer at once (``tests/e2e/test_batch_reads_real_airflow.py``): one mapped
generate, ``WAITS`` instances, each submitting a cheap video and waiting for it in the triggerer."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

DAG_ID = "evolink_many_waits"
#: Mapped waits per run: more than ``[core] parallelism`` (4 in the test's Airflow), which deferred ones do not hold.
WAITS = 10
#: Seconds between reads once a task may be done; also the spacing of the coalescer's batch lines (less jitter).
POLL_SECONDS = 1.0

with DAG(DAG_ID, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, is_paused_upon_creation=False):
    EvoLinkGenerateVideoOperator.partial(
        task_id="generate", wait_for_completion=True, deferrable=True, poll_interval=POLL_SECONDS
    ).expand(
        request=[
            {"model": "kling-o3-reference-to-video", "prompt": f"a paper boat, take {index}", "duration": 3}
            for index in range(WAITS)
        ]
    )
