"""A transfer without Asset ``outlets`` records its videos on ``VIDEOS_ASSET``, mapped or not, so the gallery sees
every stored video; a transfer with its own Asset outlets records on those only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors
from test_evolink_to_storage import create_task, operator

from airflow_provider_evolink.asset_extra import VIDEOS_ASSET

MINE = Asset("videos", uri="file:///videos/latest")


def test_a_transfer_without_asset_outlets_gets_the_videos_asset() -> None:
    assert operator("/tmp/v").outlets == [VIDEOS_ASSET]
    alias = AssetAlias("later")
    assert operator("/tmp/v", outlets=[alias]).outlets == [alias, VIDEOS_ASSET]  # an alias is not an Asset


def test_a_transfer_with_its_own_asset_outlets_keeps_them_only() -> None:
    assert operator("/tmp/v", outlets=[MINE]).outlets == [MINE]
    assert operator("/tmp/v", outlets=MINE).outlets == [MINE]


def test_a_mapped_transfer_without_asset_outlets_gets_the_videos_asset_too() -> None:
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    with DAG("mapped_without_outlets", schedule=None):
        bare = EvoLinkToStorageOperator.partial(task_id="bare", destination="/tmp/v").expand(evolink_task_id=["a"])
        own = EvoLinkToStorageOperator.partial(task_id="own", destination="/tmp/v", outlets=[MINE]).expand(
            evolink_task_id=["a"]
        )

    assert (bare.outlets, own.outlets) == ([VIDEOS_ASSET], [MINE])


def test_a_run_without_outlets_records_its_video_on_the_videos_asset(emulator: Any, tmp_path: Path) -> None:
    evolink_task_id = create_task(emulator)
    events = OutletEventAccessors()

    [uri] = operator(str(tmp_path), evolink_task_id).execute({"outlet_events": events})

    assert events[VIDEOS_ASSET].extra["source"] == "evolink"
    assert events[VIDEOS_ASSET].extra["files"][0]["uri"] == uri
