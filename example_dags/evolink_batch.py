"""
A batch of Kling O3 videos, one per prompt, fanned out with dynamic task mapping.

Each mapped ``generate`` submits one paid task and waits for it in the triggerer (``wait_for_completion``), so
``max_active_tis_per_dagrun`` bounds how many EvoLink tasks are in flight at once: deferred instances count
towards it. ``max_credits`` caps what each video may cost. ``save`` stores each result under its map index.
The UI names each mapped ``generate`` by its prompt and each ``save`` by its EvoLink task ID.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.transfers.destinations import DESTINATION_PATTERN
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

# EvoLink's own client polls every 8 s; the demo and the tests shorten it against the emulator.
POLL_SECONDS = float(os.environ.get("EVOLINK_POLL_INTERVAL", "8"))
VIDEOS = Asset("evolink/batch")  # one event per saved video, with its size and CRC32C
#: How the UI names a mapped ``generate``: its prompt, cut to 40 characters.
PROMPT_LABEL = "{{ task.request['prompt'] | truncate(40, true, '…', 0) }}"


@dag(
    schedule=None,
    tags=["evolink", "example"],
    doc_md=__doc__,
    params={
        # An array of strings is a text box in the trigger form: one entry per line.
        "prompt": Param(
            ["A lighthouse at dawn, slow dolly in", "A fox in fresh snow, close-up", "Neon rain on a city street"],
            type="array",
            items={"type": "string", "minLength": 1, "maxLength": 2500},
            minItems=1,
            maxItems=50,
            description="One prompt per line, one video each (1 to 50 prompts of up to 2,500 characters)",
        ),
        # Optional inputs allow null: the trigger form marks every other type required, and an empty box is null.
        "video_url": Param(
            None,
            type=["null", "string"],
            description="Public URL of the reference video (3 to 10 s), used for every prompt. Leave empty to use "
            "the sample video of the connection's host (the emulator serves one).",
        ),
        # The range is under allOf, not minimum/maximum: the form's number box would silently clamp 99 to 10.
        "duration": Param(
            5,
            type="integer",
            allOf=[{"minimum": 3, "maximum": 10}],
            description="Seconds of each video: a whole number from 3 to 10",
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
            description="Folder URI (file://, s3://, gs://…) or absolute path to store the videos in; each run "
            "writes into <destination>/<run id>/<map index>/",
        ),
    },
)
def evolink_batch():
    @task
    def build_requests(params=None) -> list[dict]:
        # Resolved at run time, not parse time: the sample lives on whatever host the connection points at.
        video_url = params["video_url"] or f"{EvoLinkHook().base_url}/samples/reference.mp4"
        return [
            {
                "model": "kling-o3-reference-to-video",
                "prompt": prompt,
                "video_url": video_url,
                "duration": params["duration"],
                "aspect_ratio": params["aspect_ratio"],
                "quality": params["quality"],
            }
            for prompt in params["prompt"]
        ]

    generate = EvoLinkGenerateVideoOperator.partial(
        task_id="generate",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        max_credits=120,  # per video: 10 s at 1080p estimates 108.05 credits
        max_active_tis_per_dagrun=2,  # at most two EvoLink tasks in flight per run
        retries=2,  # safe: a retry reconnects to the stored EvoLink task instead of paying again
        retry_delay=timedelta(seconds=30),
        # The UI lists each mapped instance by its prompt (shortened) instead of 0, 1, 2.
        map_index_template=PROMPT_LABEL,
    ).expand(request=build_requests())

    EvoLinkToStorageOperator.partial(
        task_id="save",
        destination="{{ params.destination }}/{{ run_id }}/{{ ti.map_index }}",
        outlets=[VIDEOS],
        map_index_template="{{ task.evolink_task_id }}",
    ).expand(evolink_task_id=generate.output)


evolink_batch()
