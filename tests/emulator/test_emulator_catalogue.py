"""The emulator and the typed catalogue models (Seedance 2.0, Kling O3/V3), over real HTTP: each documented example
is accepted and completes with a video of the requested length (and a sound track when asked), each documented
violation is refused naming its field, and the price follows the catalogue."""

from __future__ import annotations

import io
from typing import Any

import av
import httpx
import pytest
from catalogue_cases import VIOLATIONS, Violation, broken, examples

from airflow_provider_evolink.emulator import EvoLinkEmulator

CREATE = "/v1/videos/generations"
MODELS = sorted(examples("http://samples"))
#: Whether each example asks for a sound track (the model's sound field, else its default).
SOUND = {
    **{model: "text-to-video" in model or "image-to-video" in model for model in MODELS if "seedance" in model},
    "kling-o3-text-to-video": True,
    "kling-o3-image-to-video": False,
    "kling-o3-video-edit": True,
    "kling-v3-text-to-video": False,
    "kling-v3-image-to-video": False,
}


def _result(api: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    created = api.post(CREATE, json=body)
    assert created.status_code == 200, created.text
    detail = api.get(f"/v1/tasks/{created.json()['id']}").json()
    assert detail["status"] == "completed", detail
    return created.json(), detail, httpx.get(detail["results"][0], timeout=10).content


def _tracks(data: bytes) -> tuple[float, list[str]]:
    """Seconds and stream types of an MP4, read back with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        return (container.duration or 0) / av.time_base, [stream.type for stream in container.streams]


@pytest.mark.parametrize("model", MODELS)
def test_each_documented_example_completes_with_a_video_of_the_requested_length(
    api: httpx.Client, samples: str, model: str
) -> None:
    body = examples(samples)[model]

    created, detail, video = _result(api, body)

    seconds, tracks = _tracks(video)
    expected = body.get("duration", 5)  # video edit: as long as its video (the 5 s sample)
    assert seconds == pytest.approx(expected, abs=0.2)
    assert detail["task_info"]["video_duration"] == created["task_info"]["video_duration"] == expected
    assert tracks == (["video", "audio"] if SOUND[model] else ["video"])


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_each_documented_violation_is_refused_naming_its_field(
    api: httpx.Client, samples: str, violation: Violation
) -> None:
    response = api.post(CREATE, json=broken(samples, violation))

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert violation.field in error["param"] or violation.field in error["message"], error


@pytest.mark.parametrize(
    ("changes", "credits"),
    [
        ({"model": "seedance-2.0-text-to-video", "duration": 10, "quality": "480p"}, 62.51),
        ({"model": "seedance-2.0-fast-text-to-video", "duration": 5, "quality": "720p"}, 54.675),
        ({"model": "seedance-2.0-text-to-video", "content_filter": False}, 74.25),
        ({"model": "kling-v3-text-to-video", "sound": "on", "quality": "1080p"}, 54.0),
    ],
)
def test_a_typed_model_reserves_its_published_price(
    api: httpx.Client, samples: str, changes: dict[str, Any], credits: float
) -> None:
    base = examples(samples)["seedance-2.0-text-to-video"] | {"duration": 5}
    body = {**base, **changes}
    body.pop("generate_audio") if "kling" in body["model"] else None
    response = api.post(CREATE, json=body)
    assert response.json()["usage"]["credits_reserved"] == pytest.approx(credits)


def test_a_seedance_reference_video_bills_its_seconds_too_at_the_lower_rate(api: httpx.Client, samples: str) -> None:
    body = examples(samples)["seedance-2.0-reference-to-video"]  # 6 s at 720p, one 5 s reference video
    response = api.post(CREATE, json=body)
    assert response.json()["usage"]["credits_reserved"] == pytest.approx((6 + 6) * 8.222)


def test_an_unknown_model_is_still_refused_unless_any_model_is_accepted(api: httpx.Client, make_emulator: Any) -> None:
    body = {"model": "seedance-2.0", "prompt": "x" * 5000}
    assert api.post(CREATE, json=body).json()["error"]["code"] == "model_access_denied"
    emu, any_model = make_emulator(processing_seconds=0, accept_any_model=True)
    assert isinstance(emu, EvoLinkEmulator)
    assert any_model.post(CREATE, json=body).status_code == 200


def _height(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return int(container.streams.video[0].height)


def test_the_result_frame_grows_with_the_requested_quality(api: httpx.Client, samples: str) -> None:
    body = examples(samples)["seedance-2.0-text-to-video"] | {"duration": 4, "generate_audio": False}
    heights = [_height(_result(api, body | {"quality": quality})[2]) for quality in ("480p", "720p", "1080p")]
    assert heights == [120, 180, 270]  # a quarter of EvoLink's 480/720/1080 lines for 16:9
