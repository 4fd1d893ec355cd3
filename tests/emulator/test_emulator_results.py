"""Result links and samples over real HTTP: playable MP4s, ranges, expiry, the blob, no-auth recording."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import httpx
import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator, media

Body = Callable[..., dict[str, Any]]
StartEmulator = Callable[..., tuple[EvoLinkEmulator, httpx.Client]]
ResultOf = Callable[..., str]


def _video_facts(data: bytes) -> tuple[str, float, int, int, Fraction | None]:
    """(codec, duration in s, width, height, frame rate) of an MP4, decoded by PyAV."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        frames = sum(1 for _ in container.decode(stream))
        assert frames == stream.frames  # every frame decodes: the file is playable to the end
        return (
            stream.codec_context.name,
            container.duration / av.time_base,
            stream.width,
            stream.height,
            stream.average_rate,
        )


@pytest.mark.parametrize(("duration", "aspect_ratio"), [(3, "9:16"), (5, "16:9"), (4, "1:1")])
def test_result_is_a_playable_mp4_of_the_requested_duration_and_aspect_ratio(
    api: httpx.Client, o3_body: Body, completed_result: ResultOf, duration: int, aspect_ratio: str
) -> None:
    response = httpx.get(completed_result(body=o3_body(duration=duration, aspect_ratio=aspect_ratio)))

    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    codec, seconds, width, height, _ = _video_facts(response.content)
    assert codec == "h264"
    assert seconds == pytest.approx(duration, abs=0.05)
    ratio_width, ratio_height = map(int, aspect_ratio.split(":"))
    assert Fraction(width, height) == Fraction(ratio_width, ratio_height)


def test_motion_control_result_lasts_the_reference_video_length(
    make_emulator: StartEmulator, motion_body: Body, completed_result: ResultOf
) -> None:
    _, client = make_emulator(processing_seconds=0, reference_video_seconds=4)
    _, seconds, _, _, _ = _video_facts(httpx.get(completed_result(client, motion_body())).content)
    assert seconds == pytest.approx(4, abs=0.05)


def test_result_has_content_length_and_serves_byte_ranges(completed_result: ResultOf) -> None:
    url = completed_result()
    whole = httpx.get(url)
    size = len(whole.content)
    assert int(whole.headers["content-length"]) == size
    assert whole.headers["accept-ranges"] == "bytes"

    for header, start, end in [
        ("bytes=10-19", 10, 20),
        (f"bytes={size - 7}-", size - 7, size),
        ("bytes=-5", size - 5, size),
    ]:
        part = httpx.get(url, headers={"Range": header})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert int(part.headers["content-length"]) == end - start
        assert part.content == whole.content[start:end]


def test_range_past_the_end_is_416(completed_result: ResultOf) -> None:
    url = completed_result()
    size = int(httpx.head(url).headers["content-length"])
    response = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


def test_head_reports_the_size_without_a_body(completed_result: ResultOf) -> None:
    url = completed_result()
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(httpx.get(url).content)
    assert head.content == b""


def test_result_link_expires_after_the_ttl_with_403(make_emulator: StartEmulator, completed_result: ResultOf) -> None:
    _, client = make_emulator(processing_seconds=0, result_ttl_seconds=1)
    url = completed_result(client)
    assert httpx.get(url).status_code == 200
    expires = int(httpx.URL(url).params["expires"])

    time.sleep(max(expires - time.time(), 0) + 0.1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text


def test_tampered_result_link_is_403(completed_result: ResultOf) -> None:
    url = httpx.URL(completed_result())
    later = url.copy_set_param("expires", str(int(url.params["expires"]) + 3600))
    assert httpx.get(later).status_code == 403


def test_result_route_takes_no_auth_and_records_an_authorization_header(
    emulator: EvoLinkEmulator, completed_result: ResultOf
) -> None:
    url = completed_result()
    anonymous = httpx.get(url)
    leaked = httpx.get(url, headers={"Authorization": f"Bearer {emulator.api_key}"})

    assert (anonymous.status_code, leaked.status_code) == (200, 200)
    auth_by_id = {entry["request_id"]: entry["auth"] for entry in emulator.requests()}
    assert auth_by_id[anonymous.headers["x-request-id"]] is False
    assert auth_by_id[leaked.headers["x-request-id"]] is True


def test_result_size_bytes_streams_a_blob_of_that_size(
    make_emulator: StartEmulator, completed_result: ResultOf
) -> None:
    size = 3 * 1024 * 1024 + 17
    emu, client = make_emulator(processing_seconds=0, result_size_bytes=size)
    url = completed_result(client)

    digest, received = hashlib.sha256(), 0
    with httpx.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == size
        for chunk in response.iter_bytes():
            digest.update(chunk)
            received += len(chunk)
    assert received == size
    task_id = httpx.URL(url).path.split("/")[2]
    assert digest.hexdigest() == emu.result_sha256(url) == emu.result_sha256(task_id)

    middle = httpx.get(url, headers={"Range": "bytes=1048570-1048585"})
    assert middle.status_code == 206
    assert len(middle.content) == 16
    assert hashlib.sha256(
        httpx.get(url, headers={"Range": "bytes=0-1048569"}).content + middle.content
    ).hexdigest() == (hashlib.sha256(httpx.get(url, headers={"Range": "bytes=0-1048585"}).content).hexdigest())


def test_result_sha256_of_an_unknown_task_is_a_key_error(emulator: EvoLinkEmulator) -> None:
    with pytest.raises(KeyError):
        emulator.result_sha256("task-unified-1-unknown0")


def test_sample_reference_video_meets_o3_reference_rules(emulator: EvoLinkEmulator) -> None:
    response = httpx.get(f"{emulator.base_url}/samples/reference.mp4")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    codec, seconds, width, height, fps = _video_facts(response.content)
    assert (codec, width, height, fps) == ("h264", 1280, 720, 24)
    assert seconds == pytest.approx(5, abs=0.05)


def test_sample_character_image_is_a_jpeg_of_at_least_300_px(emulator: EvoLinkEmulator) -> None:
    response = httpx.get(f"{emulator.base_url}/samples/character.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    with av.open(io.BytesIO(response.content), "r") as container:
        frame = next(container.decode(video=0))
    assert min(frame.width, frame.height) >= 300
    assert 1 / 2.5 <= frame.width / frame.height <= 2.5


@pytest.mark.parametrize(
    ("quality", "aspect_ratio", "size"),
    [("720p", "16:9", (1280, 720)), ("1080p", "16:9", (1920, 1080)), ("1080p", "9:16", (1080, 1920))],
)
def test_result_has_evolinks_frame_size_for_the_requested_quality(
    make_emulator: StartEmulator, o3_body: Body, quality: str, aspect_ratio: str, size: tuple[int, int]
) -> None:
    _, client = make_emulator(processing_seconds=0)
    body = o3_body(duration=3, quality=quality, aspect_ratio=aspect_ratio)
    url = client.get(f"/v1/tasks/{client.post('/v1/videos/generations', json=body).json()['id']}").json()["results"][0]

    _, _, width, height, fps = _video_facts(httpx.get(url).content)

    assert ((width, height), fps) == (size, media.RESULT_FPS)


def test_small_videos_are_a_quarter_of_each_side(emulator: EvoLinkEmulator, completed_result: ResultOf) -> None:
    # The session emulator of the test suite renders small videos: most tests do not look at the resolution.
    _, _, width, height, _ = _video_facts(httpx.get(completed_result()).content)
    assert (width, height) == (320, 180)


@pytest.mark.parametrize(
    ("aspect_ratio", "quality", "size"),
    [
        ("16:9", "480p", (854, 480)),
        ("4:3", "480p", (640, 480)),
        ("21:9", "720p", (1680, 720)),
        ("1:1", "1080p", (1080, 1080)),
        ("16:9", "4k", (3840, 2160)),
        ("adaptive", "720p", (1280, 720)),
        ("16:9", "no such quality", (1280, 720)),
    ],
)
def test_frame_size_follows_quality_and_aspect_ratio(aspect_ratio: str, quality: str, size: tuple[int, int]) -> None:
    assert media.frame_size(aspect_ratio, quality) == size
    assert media.frame_size(aspect_ratio, quality, small=True) == tuple(2 * round(side / 8) for side in size)
