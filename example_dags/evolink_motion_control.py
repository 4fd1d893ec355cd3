"""
Kling V3 motion control: the character of ``image_url`` performs the motion of ``video_url``.

Same shape as ``evolink_reference_to_video``: submit, wait in the triggerer, save. The output is as long as the
reference video (3–10 s when the character faces as in the image, as here). Inputs need not be public:

- ``image_url`` may be an object-storage URI, e.g. ``s3://aws_default@my-bucket/characters/hero.png``: the
  operator signs a link valid ``input_link_expiration`` seconds (6 h by default) for EvoLink to fetch;
- ``video_url`` may be a local file on the worker: by default ``samples/dance.mp4`` shipped next to this file,
  which the operator uploads through EvoLink's files API (public for 72 h, one file of the account's quota).

An empty ``image_url`` falls back to the connection host's sample, so the defaults run against the local
emulator; for real videos point the ``evolink_default`` connection at ``https://api.evolink.ai``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset, Param, dag, task

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

# EvoLink's own client polls every 8 s; the demo and the tests shorten it against the emulator.
POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/motion_control")  # one event per saved video, with its size and CRC32C
#: A 5 s dance shipped with the DAG: a local file on every worker that has the DAG folder.
SAMPLE_VIDEO = Path(__file__).parent / "samples" / "dance.mp4"


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        # Optional inputs allow null: the trigger form marks every other type required, and an empty box is null.
        "prompt": Param(
            None, type=["null", "string"], maxLength=2500, description="Optional guidance (up to 2,500 characters)"
        ),
        "image_url": Param(
            None,
            type=["null", "string"],
            description="Character image: a public URL, or an object-storage URI (s3://conn@bucket/key) the "
            "operator signs. Leave empty to use the sample image of the connection's host (the emulator serves one).",
        ),
        "video_url": Param(
            None,
            type=["null", "string"],
            description="Motion video (3 to 10 s; the output is as long): a public URL, an object-storage URI, or an "
            "absolute path on the worker (uploaded). Leave empty to use the sample shipped with this DAG.",
        ),
        # Enums are typed (not nullable): clearing the box is refused as "required" instead of sending null.
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
def evolink_motion_control():
    @task
    def build_request(params=None) -> dict:
        # Resolved at run time, not parse time: the samples live on whatever host the connection points at.
        samples = f"{EvoLinkHook().base_url}/samples"
        return {
            "model": "kling-v3-motion-control",
            "prompt": params["prompt"] or None,
            "image_urls": [params["image_url"] or f"{samples}/character.jpg"],
            "video_urls": [params["video_url"] or str(SAMPLE_VIDEO)],
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


evolink_motion_control()
