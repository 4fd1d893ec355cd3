"""
Kling V3 motion control: the character of ``image_url`` performs the motion of ``video_url``.

Same shape as ``evolink_reference_to_video``: submit, wait in the triggerer, save. The output is as long as the
reference video (3–30 s). The defaults run against the local emulator; for real videos point the
``evolink_default`` connection at ``https://api.evolink.ai`` and pass a public ``image_url`` and ``video_url``.
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
VIDEOS = Asset("evolink/motion_control")  # one event per saved video, with its size and sha256


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        "prompt": Param("", type="string", maxLength=2500, description="Optional guidance"),
        "image_url": Param("", type="string", description="Public character image; empty = the host's sample"),
        "video_url": Param("", type="string", description="Public motion video (3-30 s); empty = the host's sample"),
        "quality": Param("720p", enum=["720p", "1080p"]),
        "destination": Param(
            "file:///tmp/evolink_videos",
            type="string",
            pattern=DESTINATION_PATTERN,  # refused when the run is triggered, before anything is paid for
            description="Folder URI (file://, s3://…) or absolute path",
        ),
    },
)
def evolink_motion_control():
    @task
    def build_request(params=None) -> dict:
        # Resolved at run time, not parse time: the samples live on whatever host the connection points at.
        samples = f"{EvoLinkHook().base_url}/samples"
        return {
            "model": "kling-v3-motion-control",
            "prompt": params["prompt"] or None,
            "image_urls": [params["image_url"] or f"{samples}/character.jpg"],
            "video_urls": [params["video_url"] or f"{samples}/reference.mp4"],
            "quality": params["quality"],
            # "image": face the way the picture does (references up to 10 s); "video": follow the video (30 s).
            "model_params": {"character_orientation": "image"},
        }

    generate = EvoLinkGenerateVideoOperator(
        task_id="generate",
        request=build_request(),
        max_credits=120,  # estimated on the longest reference "image" allows: 10 s at 1080p = 108.84 credits
        retries=2,  # safe: a retry reconnects to the stored EvoLink task instead of paying again
        retry_delay=timedelta(seconds=30),
    )
    wait = EvoLinkTaskSensor(
        task_id="wait",
        evolink_task_id=generate.output,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=60 * 60,
    )
    save = EvoLinkToStorageOperator(
        task_id="save",
        evolink_task_id=generate.output,
        destination="{{ params.destination }}/{{ run_id }}",
        outlets=[VIDEOS],
    )
    wait >> save


evolink_motion_control()
