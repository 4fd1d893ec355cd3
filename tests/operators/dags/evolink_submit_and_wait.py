"""Two mapped submissions, each waited for by a deferrable sensor: run by ``dag.test()`` in the operator tests."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor

PROMPTS = ["a red fox in the snow", "an owl at dusk"]

with DAG("evolink_submit_and_wait", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    generate = EvoLinkGenerateVideoOperator.partial(task_id="generate", max_credits=100).expand(
        request=[{"model": "kling-o3-reference-to-video", "prompt": prompt, "duration": 5} for prompt in PROMPTS]
    )
    EvoLinkTaskSensor.partial(task_id="wait", deferrable=True, poke_interval=0.5, timeout=120).expand(
        evolink_task_id=generate.output
    )
