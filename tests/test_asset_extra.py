"""The transfer's Asset event ``extra``: EvoLink's ``quality`` under its own name, the former key kept readable."""

from __future__ import annotations

from airflow_provider_evolink.asset_extra import asset_extra, quality_of
from airflow_provider_evolink.models import TaskDetail

DETAIL = TaskDetail.model_validate(
    {"id": "task-unified-1", "model": "kling-o3-reference-to-video", "status": "completed", "progress": 100,
     "results": ["https://cdn.example.com/a.mp4?sig=secret"], "task_info": {"video_duration": 5}}
)  # fmt: skip


def test_the_extra_carries_the_quality_under_its_name_and_under_the_former_key() -> None:
    extra = asset_extra(DETAIL, {"quality": "1080p", "prompt": "a cat"}, [("s3://b/a.mp4", 10, "AAAA")], "crc32c")

    assert (extra["quality"], extra["resolution"], extra["prompt"], extra["duration"]) == ("1080p", "1080p", "a cat", 5)
    assert extra["files"] == [{"uri": "s3://b/a.mp4", "bytes": 10, "crc32c": "AAAA"}]
    assert (extra["bytes"], extra["crc32c"]) == (10, "AAAA")


def test_several_files_have_no_single_checksum_and_sum_their_bytes() -> None:
    extra = asset_extra(DETAIL, {}, [("s3://b/a.mp4", 10, "a"), ("s3://b/b.mp4", 5, "b")], "sha256")

    assert (extra["bytes"], extra["sha256"], extra["quality"]) == (15, None, None)


def test_the_quality_of_an_event_recorded_before_the_rename_is_read_from_its_former_key() -> None:
    assert quality_of({"resolution": "720p"}) == "720p"
    assert quality_of({"quality": "1080p", "resolution": "720p"}) == "1080p"
    assert quality_of({}) is None
