"""
Seedance 2.0 text-to-video: submit, wait in the triggerer, save the MP4 (with its sound track).

``generate`` submits one paid task and returns its EvoLink task ID; ``wait`` defers to the triggerer (no worker
slot is held while EvoLink renders); ``save`` streams the result to ``destination`` and emits an Asset event.
``tier`` picks the model: ``standard`` (``seedance-2.0-text-to-video``) or ``fast``
(``seedance-2.0-fast-text-to-video``, cheaper); both render 480p or 720p here.

The defaults run against the local emulator (``make demo``). For real videos, point the ``evolink_default``
connection at ``https://api.evolink.ai``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

# EvoLink's own client polls every 8 s; the demo and the tests shorten it against the emulator.
POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/seedance_text_to_video")  # one event per saved video, with its size and CRC32C
MODELS = {"standard": "seedance-2.0-text-to-video", "fast": "seedance-2.0-fast-text-to-video"}


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        "prompt": Param(
            "A lighthouse keeper climbs the stairs at dusk as waves crash below, cinematic",
            type="string",
            minLength=1,
            description="What the video shows; put spoken lines in double quotes",
        ),
        "tier": Param(
            "fast", type="string", enum=sorted(MODELS), description="standard (best) or fast (cheaper, quicker)"
        ),
        # The range is under allOf, not minimum/maximum: the form's number box would silently clamp 99 to 15.
        "duration": Param(
            5,
            type="integer",
            allOf=[{"minimum": 4, "maximum": 15}],
            description="Seconds of output: a whole number from 4 to 15",
        ),
        # Enums are typed (not nullable): clearing the box is refused as "required" instead of sending null.
        "aspect_ratio": Param(
            "16:9",
            type="string",
            enum=["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"],
            description="Width:height, or adaptive (chosen from the prompt)",
        ),
        "quality": Param(
            "720p", type="string", enum=["480p", "720p"], description="Resolution; 480p costs less than half"
        ),
        "generate_audio": Param(True, type="boolean", description="A sound track (voice, effects, music); free"),
        "destination": Param(
            "file:///tmp/evolink_videos",
            type="string",
            pattern=DESTINATION_PATTERN,  # refused when the run is triggered, before anything is paid for
            description="Folder URI (file://, s3://, gs://…) or absolute path to store the video in; each run "
            "writes into <destination>/<run id>/",
        ),
    },
)
def evolink_seedance_text_to_video():
    @task
    def build_request(params=None) -> dict:
        return {
            "model": MODELS[params["tier"]],
            "prompt": params["prompt"],
            "duration": params["duration"],
            "aspect_ratio": params["aspect_ratio"],
            "quality": params["quality"],
            "generate_audio": params["generate_audio"],
        }

    generate = EvoLinkGenerateVideoOperator(
        task_id="generate",
        request=build_request(),
        max_credits=210,  # 15 s of Standard 720p estimates 202.5 credits: refuse anything dearer before paying
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


evolink_seedance_text_to_video()
