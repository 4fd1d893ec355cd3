"""
Review before publishing: generate a video, save it, let a person watch it and decide, then publish or not.

``generate`` → ``wait`` → ``save`` as in ``evolink_seedance_text_to_video``; ``review`` asks for a decision in the
Airflow UI (the video plays on the review task's "EvoLink videos" tab; the form is on its "Required actions"):

- **Approve** → ``publish`` copies the stored file to ``<destination>/published/<run id>/`` and emits an event of
  the ``evolink/published`` Asset (its ``extra``: the published URIs, the model, the reviewer and the comment);
- **Reject** → ``mark_rejected`` logs who rejected it and why; nothing is published.

The review waits for as long as ``response_timeout`` (a day here), then takes ``Reject``. On Airflow 3.1 and 3.2 the
waiting review task is ``deferred`` (a triggerer must run); on 3.3 it is ``awaiting_input``.

The defaults run against the local emulator (``make demo``). For real videos, point the ``evolink_default``
connection at ``https://api.evolink.ai``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, ObjectStoragePath, Param, dag, task

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.operators.review import (
    APPROVE,
    REJECT,
    XCOM_DECISION,
    XCOM_REVIEW,
    EvoLinkVideoReviewBranchOperator,
)
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/review_and_publish")  # every saved video, reviewed or not
PUBLISHED = Asset("evolink/published")  # only the approved ones, copied to the published folder


@dag(
    schedule=None,
    tags=["evolink", "example", "review"],
    doc_md=__doc__,
    params={
        "prompt": Param(
            "A hot-air balloon rises over a misty valley at sunrise, wide shot",
            type="string",
            minLength=1,
            description="What the video shows",
        ),
        "duration": Param(
            5, type="integer", allOf=[{"minimum": 4, "maximum": 15}], description="Seconds of output: 4 to 15"
        ),
        "quality": Param("480p", type="string", enum=["480p", "720p"], description="Resolution"),
        "destination": Param(
            "file:///tmp/evolink_videos",
            type="string",
            pattern=DESTINATION_PATTERN,
            description="Folder URI (file://, s3://, gs://…) or absolute path; a run saves into "
            "<destination>/<run id>/ and publishes into <destination>/published/<run id>/",
        ),
    },
)
def evolink_review_and_publish():
    @task
    def build_request(params=None) -> dict:
        return {
            "model": "seedance-2.0-fast-text-to-video",
            "prompt": params["prompt"],
            "duration": params["duration"],
            "quality": params["quality"],
        }

    generate = EvoLinkGenerateVideoOperator(
        task_id="generate",
        request=build_request(),
        max_credits=170,  # 15 s at 720p estimates 164 credits
        retries=2,  # safe: a retry reconnects to the stored EvoLink task instead of paying again
        retry_delay=timedelta(seconds=30),
    )
    wait = EvoLinkTaskSensor(
        task_id="wait",
        evolink_task_id=generate.output,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        retries=2,  # safe: a retry only reads the EvoLink task again (e.g. after a worker lost its resume)
        retry_delay=timedelta(seconds=30),
    )
    save = EvoLinkToStorageOperator(
        task_id="save",
        evolink_task_id=generate.output,
        destination="{{ params.destination }}/{{ run_id }}",
        outlets=[VIDEOS],
    )
    review = EvoLinkVideoReviewBranchOperator(
        task_id="review",
        save_task_id="save",
        options_mapping={APPROVE: "publish", REJECT: "mark_rejected"},
        defaults=REJECT,  # taken when nobody answers within response_timeout
        response_timeout=timedelta(days=1),
    )

    @task(outlets=[PUBLISHED])
    def publish(ti=None, params=None, outlet_events=None) -> list[str]:
        """Copy the approved files to the published folder; the Asset event says who approved them."""
        reviewed = ti.xcom_pull(task_ids="review", key=XCOM_REVIEW)
        decision = ti.xcom_pull(task_ids="review", key=XCOM_DECISION)
        folder = ObjectStoragePath(f"{params['destination']}/published/{ti.run_id}")
        folder.mkdir(parents=True, exist_ok=True)
        published = []
        for uri in reviewed["files"]:
            source = ObjectStoragePath(uri)
            source.copy(folder / source.name)
            published.append(str(folder / source.name))
        outlet_events[PUBLISHED].extra.update(
            {
                "files": published,
                "model": reviewed["model"],
                "approved_by": decision["responded_by"],
                "comment": decision["comment"],
            }
        )
        return published

    @task
    def mark_rejected(ti=None) -> str:
        """Say who rejected the video and why (the stored file stays where ``save`` put it)."""
        decision = ti.xcom_pull(task_ids="review", key=XCOM_DECISION)
        who = decision["responded_by"] or "the timeout default"
        comment = decision["comment"] or "no comment"
        return f"rejected by {who}: {comment}"

    wait >> save >> review >> [publish(), mark_rejected()]


evolink_review_and_publish()
