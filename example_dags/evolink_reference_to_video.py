"""
Kling O3 reference-to-video: submit, wait in the triggerer, save the MP4.

``generate`` submits one paid task and returns its EvoLink task ID; ``wait`` defers to the triggerer (no worker
slot is held while EvoLink renders); ``save`` streams the result to ``destination`` and emits an Asset event.

The defaults run against the local emulator (``make demo``). For real videos, point the ``evolink_default``
connection at ``https://api.evolink.ai`` and pass a public ``video_url``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

# EvoLink's own client polls every 8 s; the demo and the tests shorten it against the emulator.
POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/reference_to_video")  # one event per saved video, with its size and CRC32C


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        "prompt": Param(
            "A paper boat drifting down a rainy street, cinematic",
            type="string",
            minLength=1,
            maxLength=2500,
            description="What the video shows (1 to 2,500 characters)",
        ),
        # Optional inputs allow null: the trigger form marks every other type required, and an empty box is null.
        "video_url": Param(
            None,
            type=["null", "string"],
            description="Public URL of the reference video (3 to 10 s). Leave empty to use the sample video of the "
            "connection's host (the emulator serves one).",
        ),
        # The range is under allOf, not minimum/maximum: the form's number box would silently clamp 99 to 10.
        "duration": Param(
            5,
            type="integer",
            allOf=[{"minimum": 3, "maximum": 10}],
            description="Seconds of output: a whole number from 3 to 10",
        ),
        # Enums are typed (not nullable): clearing the box is refused as "required" instead of sending null.
        "aspect_ratio": Param("16:9", type="string", enum=["16:9", "9:16", "1:1"], description="Width:height"),
        "quality": Param(
            "720p", type="string", enum=["720p", "1080p"], description="Resolution; 1080p costs a third more"
        ),
        "destination": Param(
            "file:///tmp/evolink_videos",
            type="string",
            pattern=DESTINATION_PATTERN,  # refused when the run is triggered, before anything is paid for
            description="Folder URI (file://, s3://, gs://…) or absolute path to store the video in; each run "
            "writes into <destination>/<run id>/",
        ),
    },
)
def evolink_reference_to_video():
    @task
    def build_request(params=None) -> dict:
        # Resolved at run time, not parse time: the sample lives on whatever host the connection points at.
        video_url = params["video_url"] or f"{EvoLinkHook().base_url}/samples/reference.mp4"
        return {
            "model": "kling-o3-reference-to-video",
            "prompt": params["prompt"],
            "video_url": video_url,
            "duration": params["duration"],
            "aspect_ratio": params["aspect_ratio"],
            "quality": params["quality"],
        }

    generate = EvoLinkGenerateVideoOperator(
        task_id="generate",
        request=build_request(),
        max_credits=120,  # 10 s at 1080p estimates 108.05 credits: refuse anything dearer before paying
        retries=2,  # safe: a retry reconnects to the stored EvoLink task instead of paying again
        retry_delay=timedelta(seconds=30),
    )
    wait = EvoLinkTaskSensor(
        task_id="wait",
        evolink_task_id=generate.output,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=60 * 60,
        retries=2,  # safe: a retry only reads the EvoLink task again (e.g. after a worker lost its resume)
        retry_delay=timedelta(seconds=30),
    )
    save = EvoLinkToStorageOperator(
        task_id="save",
        evolink_task_id=generate.output,
        destination="{{ params.destination }}/{{ run_id }}",
        outlets=[VIDEOS],
    )
    wait >> save


evolink_reference_to_video()
