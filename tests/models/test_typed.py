"""The typed catalogue models (Seedance 2.0, Kling O3/V3): each documented example validates and routes to its
class, each documented rule refuses its violation naming the field, and ``estimate_credits`` follows the published
prices."""

from __future__ import annotations

from typing import Any

import pytest
from catalogue_cases import VIOLATIONS, Violation, broken, examples
from pydantic import ValidationError

from airflow_provider_evolink.models import (
    KlingO3ImageToVideoRequest,
    KlingO3TextToVideoRequest,
    KlingO3VideoEditRequest,
    KlingV3ImageToVideoRequest,
    KlingV3TextToVideoRequest,
    SeedanceImageToVideoRequest,
    SeedanceReferenceToVideoRequest,
    SeedanceTextToVideoRequest,
    VideoGenerationRequest,
    estimate_credits,
    media_fields,
    parse_request,
)

BASE = "https://cdn.example.com/samples"
EXAMPLES = examples(BASE)
CLASSES = {
    "text-to-video": SeedanceTextToVideoRequest,
    "image-to-video": SeedanceImageToVideoRequest,
    "reference-to-video": SeedanceReferenceToVideoRequest,
}


def _class_of(model: str) -> type:
    if model.startswith("seedance"):
        return CLASSES[model.split("-", 2)[2].removeprefix("fast-").removeprefix("mini-")]
    return {
        "kling-o3-text-to-video": KlingO3TextToVideoRequest,
        "kling-o3-image-to-video": KlingO3ImageToVideoRequest,
        "kling-o3-video-edit": KlingO3VideoEditRequest,
        "kling-v3-text-to-video": KlingV3TextToVideoRequest,
        "kling-v3-image-to-video": KlingV3ImageToVideoRequest,
    }[model]


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_each_documented_example_validates_routes_to_its_class_and_is_sent_unchanged(model: str) -> None:
    request = parse_request(EXAMPLES[model])
    assert type(request) is _class_of(model)
    assert request.to_api_json() == EXAMPLES[model]


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_each_documented_rule_refuses_its_violation_naming_the_field(violation: Violation) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request(broken(BASE, violation))
    text = str(caught.value)
    assert violation.field in text, text


def test_seedance_media_fields_are_inputs_of_their_kind() -> None:
    request = parse_request(EXAMPLES["seedance-2.0-reference-to-video"] | {"audio_urls": [f"{BASE}/a.mp3"]})
    assert [(field.name, field.kind) for field in media_fields(request)] == [
        ("image_urls[0]", "image"),
        ("video_urls[0]", "video"),
        ("audio_urls[0]", "media"),
    ]


def test_seedance_media_fields_take_object_storage_uris_and_local_paths_like_other_models() -> None:
    body = EXAMPLES["seedance-2.0-image-to-video"] | {"image_urls": ["s3://aws@bucket/first.jpg", "/data/last.png"]}
    assert parse_request(body).to_api_json()["image_urls"] == ["s3://aws@bucket/first.jpg", "/data/last.png"]
    with pytest.raises(ValidationError, match="image_urls"):
        parse_request(body | {"image_urls": ["frames/first.jpg"]})


def test_a_class_refuses_a_model_of_another_mode_and_names_its_own() -> None:
    with pytest.raises(ValidationError, match=r"seedance-2\.0-fast-text-to-video"):
        SeedanceTextToVideoRequest(model="seedance-2.0-image-to-video", prompt="p")


def test_the_generic_request_refuses_a_typed_model_so_its_rules_cannot_be_bypassed() -> None:
    with pytest.raises(ValidationError, match="use SeedanceTextToVideoRequest"):
        VideoGenerationRequest(model="seedance-2.0-text-to-video", prompt="p")


def test_the_placeholder_seedance_id_is_refused_naming_the_real_ids() -> None:
    with pytest.raises(ValidationError, match=r"placeholder.*seedance-2\.0-text-to-video.*seedance-2\.0-fast-"):
        parse_request({"model": "seedance-2.0", "prompt": "p"})


def test_unknown_model_ids_submit_any_prompt_length_and_extra_fields_but_not_bad_media_urls() -> None:
    body = {"model": "veo-9-generate-preview", "prompt": "x" * 6000, "n": 2, "image_urls": ["frames/x.png"]}
    with pytest.raises(ValidationError, match=r"image_urls"):
        parse_request(body)
    body["image_urls"] = [f"{BASE}/x.png"]
    assert parse_request(body).to_api_json() == body


# ------------------------------------------------------------------------------------------------ prices
@pytest.mark.parametrize(
    ("model", "changes", "credits"),
    [
        ("seedance-2.0-text-to-video", {"duration": 5, "quality": "720p"}, 67.5),  # 13.50/s
        ("seedance-2.0-text-to-video", {"duration": 10, "quality": "480p"}, 62.51),  # 6.251/s
        ("seedance-2.0-text-to-video", {"duration": 5, "quality": "720p", "content_filter": False}, 74.25),  # ×1.1
        ("seedance-2.0-image-to-video", {"duration": 4, "quality": "480p"}, 25.004),
        ("seedance-2.0-fast-text-to-video", {"duration": 5, "quality": "720p"}, 54.675),  # 10.935/s
        ("seedance-2.0-fast-text-to-video", {"duration": 8, "quality": "480p"}, 40.504),  # 5.063/s
        ("seedance-2.0-text-to-video", {"duration": None, "quality": None}, 67.5),  # defaults: 5 s at 720p
        ("seedance-2.0-reference-to-video", {"video_urls": None, "duration": 6, "quality": "720p"}, 81.0),
        # With a reference video: (output + input, the input counted at its 15 s bound) × the lower rate.
        ("seedance-2.0-reference-to-video", {"duration": 6, "quality": "720p"}, 21 * 8.222),
        ("seedance-2.0-fast-reference-to-video", {"duration": 6, "quality": "480p"}, 21 * 3.012),
        ("kling-o3-text-to-video", {"duration": 5, "quality": "720p", "sound": "on"}, 36.018),  # 7.2036/s
        ("kling-o3-text-to-video", {"duration": 10, "quality": "1080p", "sound": "off"}, 72.036),
        ("kling-o3-image-to-video", {"duration": 5, "quality": "1080p"}, 36.018),
        ("kling-o3-image-to-video", {"duration": 3, "quality": "1080p", "sound": "on"}, 27.0054),
        ("kling-v3-text-to-video", {"duration": 10, "quality": "720p"}, 54.0),  # 5.4/s
        ("kling-v3-text-to-video", {"duration": 5, "quality": "1080p", "sound": "on"}, 54.0),  # 10.8/s
        ("kling-v3-image-to-video", {"duration": 15, "quality": "1080p"}, 107.973),  # 7.1982/s
        ("kling-v3-image-to-video", {"duration": 5, "quality": "720p", "sound": "on"}, 40.5),  # 8.1/s
    ],
)
def test_estimate_credits_matches_the_published_price(model: str, changes: dict[str, Any], credits: float) -> None:
    body = {name: value for name, value in (EXAMPLES[model] | changes).items() if value is not None}
    assert estimate_credits(body) == pytest.approx(credits)


@pytest.mark.parametrize(
    "body",
    [
        EXAMPLES["seedance-2.0-mini-text-to-video"],  # Mini: EvoLink publishes no price
        EXAMPLES["seedance-2.0-text-to-video"] | {"quality": "1080p"},  # no published 1080p price
        EXAMPLES["kling-o3-text-to-video"] | {"quality": "4k"},
        EXAMPLES["kling-o3-video-edit"],  # billed on the input video's length, unknown before submitting
        {"model": "veo3-fast", "prompt": "p", "duration": 8},
    ],
    ids=["mini", "seedance-1080p", "o3-4k", "video-edit", "unknown-model"],
)
def test_estimate_credits_is_none_without_a_published_price(body: dict[str, Any]) -> None:
    assert estimate_credits(body) is None


def test_a_price_can_be_passed_for_a_model_without_one() -> None:
    mini = EXAMPLES["seedance-2.0-mini-text-to-video"] | {"duration": 4}
    assert estimate_credits(mini, credits_per_second=2.56) == pytest.approx(10.24)
    assert estimate_credits({"model": "veo3-fast", "prompt": "p", "duration": 8}, credits_per_second=1.5) == 12.0
    # A published price wins; an unknown length stays unknown.
    assert estimate_credits(EXAMPLES["seedance-2.0-text-to-video"], credits_per_second=1) == 67.5
    assert estimate_credits({"model": "veo3-fast", "prompt": "p"}, credits_per_second=1.5) is None
