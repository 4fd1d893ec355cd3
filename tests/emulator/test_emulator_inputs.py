"""The emulator fetches every media input when a task starts, like EvoLink, and fails the task with the documented
code when one is unreachable or not usable for its field (probed with PyAV)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator, media

CREATE = "/v1/videos/generations"
Body = Callable[..., dict[str, Any]]
StartEmulator = Callable[..., tuple[EvoLinkEmulator, httpx.Client]]


@pytest.fixture
def host_files(make_emulator: StartEmulator) -> Callable[[str, bytes], str]:
    """``put(name, data)``: serve ``data`` publicly from an emulator's files host; returns its ``file_url``."""
    emu, _ = make_emulator(fetch_inputs=False)

    def put(name: str, data: bytes) -> str:
        answer = httpx.post(
            f"{emu.files_base_url}/api/v1/files/upload/stream",
            headers={"Authorization": f"Bearer {emu.api_key}"},
            files={"file": (name, data)},
        ).json()
        assert answer["success"], answer
        return str(answer["data"]["file_url"])

    return put


def outcome(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post(CREATE, json=body)
    assert created.status_code == 200, created.text  # the create succeeds: inputs are fetched when the task starts
    detail: dict[str, Any] = client.get(f"/v1/tasks/{created.json()['id']}").json()
    return detail


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/reference.mp4"


def test_fetchable_usable_inputs_complete(api: httpx.Client, o3_body: Body, motion_body: Body) -> None:
    assert outcome(api, o3_body())["status"] == "completed"
    assert outcome(api, motion_body())["status"] == "completed"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("{base}/samples/missing.mp4", id="404"),
        pytest.param("{base}/files/task-unified-1-x/0.mp4?expires=1&sig=bad", id="403"),
        pytest.param("closed", id="refused"),
    ],
)
def test_an_unreachable_input_fails_the_task_with_resource_not_found(
    api: httpx.Client, emulator: EvoLinkEmulator, o3_body: Body, url: str
) -> None:
    link = closed_port_url() if url == "closed" else url.format(base=emulator.base_url)
    detail = outcome(api, o3_body(video_url=link))
    assert detail["status"] == "failed"
    assert detail["error"]["code"] == "resource_not_found"
    assert detail["error"]["message"].startswith("video_url: ")
    assert link not in detail["error"]["message"]  # links may be signed: never echoed


def test_a_failed_input_is_refunded(make_emulator: StartEmulator, o3_body: Body) -> None:
    _, client = make_emulator(credits=100.0, processing_seconds=0)
    outcome(client, o3_body(video_url=closed_port_url()))
    assert client.get("/v1/credits").json()["data"]["user"]["remaining_credits"] == 100.0


def test_an_image_sent_as_the_o3_reference_video_is_invalid_parameters(
    api: httpx.Client, emulator: EvoLinkEmulator, o3_body: Body
) -> None:
    detail = outcome(api, o3_body(video_url=f"{emulator.base_url}/samples/character.jpg"))
    assert detail["error"]["code"] == "invalid_parameters"
    assert "video_url: must be a video" in detail["error"]["message"]


@pytest.mark.parametrize(
    ("shape", "rule"),
    [
        ((640, 360, 24, 5), "720-2160 px a side (got 640x360)"),
        ((1280, 720, 12, 5), "24-60 fps (got 12)"),
        ((1280, 720, 24, 2), "at least 3 s long (got 2.0 s)"),
    ],
)
def test_an_o3_reference_video_breaking_a_documented_rule_is_invalid_parameters(
    api: httpx.Client, o3_body: Body, host_files: Callable[[str, bytes], str], shape: tuple[int, ...], rule: str
) -> None:
    width, height, fps, seconds = shape
    url = host_files("ref.mp4", media._encode_mp4(width, height, fps, seconds))
    detail = outcome(api, o3_body(video_url=url))
    assert detail["error"]["code"] == "invalid_parameters"
    assert rule in detail["error"]["message"]


def test_a_file_that_is_not_an_image_fails_an_image_field_with_image_processing_error(
    api: httpx.Client, o3_body: Body, host_files: Callable[[str, bytes], str]
) -> None:
    url = host_files("fake.mp4", b"\0\0\0\x18ftypisom" + b"not really a video" * 10)
    detail = outcome(api, o3_body(image_urls=[url]))
    assert detail["error"]["code"] == "image_processing_error"
    assert detail["error"]["message"].startswith("image_urls[0]: ")


def test_a_motion_control_image_under_300_px_is_image_dimension_mismatch(
    api: httpx.Client, motion_body: Body, host_files: Callable[[str, bytes], str]
) -> None:
    url = host_files("small.jpg", _jpeg(200, 200))
    detail = outcome(api, motion_body(image_urls=[url]))
    assert detail["error"]["code"] == "image_dimension_mismatch"
    assert "at least 300 px" in detail["error"]["message"]


def test_a_motion_control_video_over_10_s_with_image_orientation_is_invalid_parameters(
    api: httpx.Client, motion_body: Body, host_files: Callable[[str, bytes], str]
) -> None:
    url = host_files("long.mp4", media._encode_mp4(320, 180, 8, 12))
    detail = outcome(api, motion_body(video_urls=[url]))
    assert detail["error"]["code"] == "invalid_parameters"
    assert "3-10 s long" in detail["error"]["message"]


def test_other_models_have_their_url_fields_fetched(make_emulator: StartEmulator) -> None:
    _, client = make_emulator(accept_any_model=True, processing_seconds=0)
    body = {"model": "veo3-fast", "prompt": "p", "first_frame_url": closed_port_url(), "callback_url": None}
    detail = outcome(client, {k: v for k, v in body.items() if v is not None})
    assert detail["error"]["code"] == "resource_not_found"
    assert detail["error"]["message"].startswith("first_frame_url: ")


def test_fetch_inputs_off_completes_without_fetching(make_emulator: StartEmulator, o3_body: Body) -> None:
    _, client = make_emulator(fetch_inputs=False, processing_seconds=0)
    assert outcome(client, o3_body(video_url=closed_port_url()))["status"] == "completed"


def test_an_unusable_input_fails_the_task_once_fetched_not_after_its_processing_time(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    _, client = make_emulator(processing_seconds=60.0)
    path = f"/v1/tasks/{client.post(CREATE, json=o3_body(video_url=closed_port_url())).json()['id']}"
    deadline = time.monotonic() + 10
    while (status := client.get(path).json()["status"]) != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == "failed"


def _jpeg(width: int, height: int) -> bytes:
    from fractions import Fraction

    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt, codec.time_base = width, height, "yuvj420p", Fraction(1, 25)
    frame = av.VideoFrame(width, height, "yuvj420p")
    for plane in frame.planes:
        plane.update(bytes([128]) * plane.buffer_size)
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


async def test_concurrent_reads_of_a_task_whose_input_fails_refund_it_once(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    import asyncio
    import threading

    # An input host that hangs up after half a second: every read below waits on the same unfinished fetch.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def hang_up_later() -> None:
            connection, _ = listener.accept()
            time.sleep(0.5)
            connection.close()

        threading.Thread(target=hang_up_later, daemon=True).start()
        emu, client = make_emulator(processing_seconds=0, credits=100.0)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/reference.mp4"
        task_id = client.post(CREATE, json=o3_body(video_url=url)).json()["id"]
        async with httpx.AsyncClient(base_url=emu.base_url, headers=dict(client.headers), timeout=10) as reader:
            answers = await asyncio.gather(*(reader.get(f"/v1/tasks/{task_id}") for _ in range(5)))
    assert [answer.status_code for answer in answers] == [200] * 5
    assert {answer.json()["status"] for answer in answers} == {"failed"}
    assert client.get("/v1/credits").json()["data"]["user"]["remaining_credits"] == 100.0


def test_an_image_over_10_mb_is_invalid_parameters(
    api: httpx.Client, o3_body: Body, host_files: Callable[[str, bytes], str]
) -> None:
    url = host_files("huge.jpg", b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024))
    detail = outcome(api, o3_body(image_urls=[url]))
    assert detail["error"]["code"] == "invalid_parameters"
    assert "image_urls[0]: the file is larger than 10 MB" in detail["error"]["message"]
