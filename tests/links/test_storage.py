"""The "Stored video" operator link: console pages for s3:// and gs:// results, nothing for local files."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_evolink.links.storage import StoredVideoLink, console_url
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

TASK = "task-unified-1700000000-abc123"


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        (
            [f"s3://aws_conn@my-bucket/videos/run 1/{TASK}.mp4"],
            f"https://console.aws.amazon.com/s3/object/my-bucket?prefix=videos/run%201/{TASK}.mp4",
        ),
        (
            [f"s3://my-bucket/videos/{TASK}_1.mp4", f"s3://my-bucket/videos/{TASK}_2.mp4"],
            "https://console.aws.amazon.com/s3/buckets/my-bucket?prefix=videos/",
        ),
        (
            [f"gs://my-bucket/videos/{TASK}.mp4"],
            f"https://console.cloud.google.com/storage/browser/_details/my-bucket/videos/{TASK}.mp4",
        ),
        (
            [f"gs://my-bucket/{TASK}_1.mp4", f"gs://my-bucket/{TASK}_2.mp4"],
            "https://console.cloud.google.com/storage/browser/my-bucket/",  # the bucket's root folder
        ),
    ],
)
def test_cloud_objects_link_to_their_console_page(uris: list[str], expected: str) -> None:
    assert console_url(uris) == expected


@pytest.mark.parametrize(
    "uris",
    [None, [], "s3://my-bucket/a.mp4", [f"file:///tmp/videos/{TASK}.mp4"], [f"memory://x/{TASK}.mp4"], ["s3://b"]],
)
def test_no_link_where_there_is_no_console_to_open(uris: Any) -> None:
    assert console_url(uris) == ""


def test_the_link_reads_the_stored_uris_of_the_task_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time.xcom import XCom

    asked: list[tuple[Any, str]] = []

    def get_value(*, ti_key: Any, key: str) -> Any:
        asked.append((ti_key, key))
        return [f"s3://my-bucket/videos/{TASK}.mp4"]

    monkeypatch.setattr(XCom, "get_value", get_value)

    link = StoredVideoLink().get_link(EvoLinkToStorageOperator.__new__(EvoLinkToStorageOperator), ti_key="ti")

    assert link == f"https://console.aws.amazon.com/s3/object/my-bucket?prefix=videos/{TASK}.mp4"
    assert asked == [("ti", "return_value")]


def test_the_transfer_shows_the_button_in_the_serialized_dag() -> None:
    from airflow.sdk import DAG
    from airflow_names import DagSerialization

    with DAG("links") as dag:
        EvoLinkToStorageOperator(task_id="save", evolink_task_id=TASK, destination="s3://my-bucket/videos")

    (task,) = DagSerialization.to_dict(dag)["dag"]["tasks"]
    assert task["__var"]["_operator_extra_links"] == {"Stored video": "_link_StoredVideoLink"}
