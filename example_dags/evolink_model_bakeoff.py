"""
A model bake-off: one prompt, rendered by each model picked in the trigger form, side by side in the gallery.

``build_requests`` makes one request per model; ``generate`` is mapped over them (dynamic task mapping), each instance
submitting one paid task, checked against ``max_credits`` before paying, and waiting for it in the triggerer;
``save`` stores each video under ``<destination>/<run id>/<model>/``. Each video's Asset event carries its model, the
credits estimated before submitting (and from which source: EvoLink's live price list, else the catalogue's
published price), the credits EvoLink reserved, and the render time, so the "EvoLink videos" gallery compares price
and look at a glance.

The defaults run against the local emulator (its price list prices every model offered here). For real videos,
point the ``evolink_default`` connection at ``https://api.evolink.ai``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

# EvoLink's own client polls every 8 s; the demo and the tests shorten it against the emulator.
POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/model_bakeoff")  # one event per saved video: model, credits, render time
#: Text-to-video models the form offers; each takes the prompt, a duration of 4 to 15 s and the ratios below.
MODELS = [
    "seedance-2.0-text-to-video",
    "seedance-2.0-fast-text-to-video",
    "kling-o3-text-to-video",
    "kling-v3-text-to-video",
]
#: Per video: Seedance 2.0 Standard, the dearest here, estimates 202.5 credits for 15 s at 720p.
MAX_CREDITS = 210


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        "prompt": Param(
            "A paper boat sails down a rain-soaked street at dusk, neon reflections, slow tracking shot",
            type="string",
            minLength=1,
            maxLength=2500,
            description="What every model renders",
        ),
        # An array whose items are a choice: the form shows a multi-select of the offered models.
        "models": Param(
            ["seedance-2.0-fast-text-to-video", "kling-o3-text-to-video", "kling-v3-text-to-video"],
            type="array",
            items={"type": "string", "enum": MODELS},
            examples=MODELS,
            minItems=1,
            uniqueItems=True,
            description="The models to compare: one video each",
        ),
        # The range is under allOf, not minimum/maximum: the form's number box would silently clamp 99 to 15.
        "duration": Param(
            5,
            type="integer",
            allOf=[{"minimum": 4, "maximum": 15}],
            description="Seconds of each video: a whole number from 4 to 15",
        ),
        # Enums are typed (not nullable): clearing the box is refused as "required" instead of sending null.
        "aspect_ratio": Param("16:9", type="string", enum=["16:9", "9:16", "1:1"], description="Width:height"),
        "destination": Param(
            "file:///tmp/evolink_videos",
            type="string",
            pattern=DESTINATION_PATTERN,  # refused when the run is triggered, before anything is paid for
            description="Folder URI (file://, s3://, gs://…) or absolute path to store the videos in; each run "
            "writes into <destination>/<run id>/<model>/",
        ),
    },
)
def evolink_model_bakeoff():
    @task
    def build_requests(params=None) -> list[dict]:
        # 720p: the one quality every model offered here renders.
        return [
            {
                "model": model,
                "prompt": params["prompt"],
                "duration": params["duration"],
                "aspect_ratio": params["aspect_ratio"],
                "quality": "720p",
            }
            for model in params["models"]
        ]

    generate = EvoLinkGenerateVideoOperator.partial(
        task_id="generate",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        max_credits=MAX_CREDITS,
        max_active_tis_per_dagrun=4,  # every model renders at once
        retries=2,  # safe: a retry reconnects to the stored EvoLink task instead of paying again
        retry_delay=timedelta(seconds=30),
        map_index_template="{{ task.request['model'] }}",  # the UI lists each instance by its model
    ).expand(request=build_requests())

    EvoLinkToStorageOperator.partial(
        task_id="save",
        # The model of the same map index, from the submission summary its generate instance pushed.
        destination="{{ params.destination }}/{{ run_id }}/"
        "{{ ti.xcom_pull(task_ids='generate', key='evolink_submission', map_indexes=ti.map_index)['model'] }}",
        outlets=[VIDEOS],
        map_index_template="{{ task.evolink_task_id }}",
    ).expand(evolink_task_id=generate.output)


evolink_model_bakeoff()
