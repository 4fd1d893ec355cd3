"""The "total a DAG run's credits" snippet of ``docs/lineage.md``, run as written after two mapped generations, one
failing."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

PAGE = Path(__file__).resolve().parents[3] / "docs" / "lineage.md"
#: The page's Python block that defines ``total_credits``.
SNIPPET = next(
    block for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL) if "def total_credits" in block
)
#: The first prompt completes (3 s at 720p: 24.3 credits); the second fails and is refunded.
PROMPTS = ["a kite over the dunes", "a storm [fail:content_policy_violation]"]

snippet: dict[str, object] = {}
exec(SNIPPET, snippet)  # noqa: S102 - the docs' own code, the point of this DAG

with DAG("evolink_credits", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    generate = EvoLinkGenerateVideoOperator.partial(
        task_id="generate", wait_for_completion=True, deferrable=False, poll_interval=0.2
    ).expand(
        request=[
            {"model": "kling-o3-reference-to-video", "prompt": prompt, "duration": 3, "quality": "720p"}
            for prompt in PROMPTS
        ]
    )
    generate >> snippet["total_credits"]()  # type: ignore[operator]
