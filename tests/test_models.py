"""Request and response models: one valid and one invalid case per documented constraint (issue 2).

Each invalid case asserts that the error names the field and the rule. Sources: the OpenAPI files, the API
pages and ``airflow_provider_evolink/api_reference/evolink-api.md``'s "Where the documents disagree".
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_provider_evolink import models
from airflow_provider_evolink.models import (
    Credits,
    CreditsResponse,
    KlingO3ReferenceToVideoRequest,
    KlingV3MotionControlRequest,
    TaskDetail,
    TaskStatus,
    Usage,
    VideoGenerationRequest,
    VideoGenerationTask,
    credit_usage,
    estimate_credits,
    parse_request,
)

VIDEO = "https://cdn.example.com/reference.mp4"
IMAGE = "https://cdn.example.com/character.jpg"


def o3(**fields: Any) -> dict[str, Any]:
    """An O3 request with a reference video; ``None`` removes a field."""
    body: dict[str, Any] = {"model": "kling-o3-reference-to-video", "prompt": "snowy street", "video_url": VIDEO}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def o3_without_video(**fields: Any) -> dict[str, Any]:
    return o3(**{"video_url": None, "image_urls": [IMAGE], **fields})


def motion(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "kling-v3-motion-control",
        "image_urls": [IMAGE],
        "video_urls": [VIDEO],
        "model_params": {"character_orientation": "image"},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def shots(*seconds: int | str) -> list[dict[str, Any]]:
    return [{"index": i, "prompt": f"shot {i}", "duration": s} for i, s in enumerate(seconds, start=1)]


def multi_shot(*seconds: int | str, **params: Any) -> dict[str, Any]:
    return {"multi_shot": True, "shot_type": "customize", "multi_prompt": shots(*seconds), **params}


def assert_invalid(body: dict[str, Any], field: str, *rule: str) -> ValidationError:
    """``body`` is refused, and the error text names ``field`` and each fragment of ``rule``."""
    with pytest.raises(ValidationError) as caught:
        parse_request(body)
    text = str(caught.value)
    assert field in text, text
    for fragment in rule:
        assert fragment in text, text
    return caught.value


# ------------------------------------------------------------------------------- prompt
def test_prompt_of_2500_characters_is_accepted() -> None:
    assert parse_request(o3(prompt="x" * 2500)).to_api_json()["prompt"] == "x" * 2500


def test_prompt_over_2500_characters_is_refused() -> None:
    assert_invalid(o3(prompt="x" * 2501), "prompt", "at most 2500 characters")


def test_motion_control_prompt_over_2500_characters_is_refused() -> None:
    assert parse_request(motion(prompt="x" * 2500))
    assert_invalid(motion(prompt="x" * 2501), "prompt", "at most 2500 characters")


def test_o3_prompt_is_required_without_multi_prompt() -> None:
    assert_invalid(o3(prompt=None), "prompt", "required")


# ------------------------------------------------------------------------------- duration
def test_o3_duration_with_video_accepts_3_to_10() -> None:
    assert parse_request(o3(duration=3)).to_api_json()["duration"] == 3
    assert parse_request(o3(duration=10)).to_api_json()["duration"] == 10


def test_o3_duration_with_video_over_10_is_refused() -> None:
    assert_invalid(o3(duration=11), "duration", "3-10 seconds with a reference video")


def test_o3_duration_without_video_accepts_up_to_15() -> None:
    assert parse_request(o3_without_video(duration=15)).to_api_json()["duration"] == 15


def test_o3_duration_without_video_over_15_is_refused() -> None:
    assert_invalid(o3_without_video(duration=16), "duration", "less than or equal to 15")


def test_o3_duration_under_3_is_refused() -> None:
    assert_invalid(o3(duration=2), "duration", "greater than or equal to 3")


@given(duration=st.integers(min_value=3, max_value=15), with_video=st.booleans())
def test_o3_duration_is_valid_exactly_when_the_documented_range_allows(duration: int, with_video: bool) -> None:
    body = o3(duration=duration) if with_video else o3_without_video(duration=duration)
    if with_video and duration > 10:
        with pytest.raises(ValidationError, match="duration"):
            parse_request(body)
    else:
        assert parse_request(body).to_api_json()["duration"] == duration


# ------------------------------------------------------------------------------- enums
@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1"])
def test_o3_aspect_ratio_enum_values_are_accepted(ratio: str) -> None:
    assert parse_request(o3(aspect_ratio=ratio)).to_api_json()["aspect_ratio"] == ratio


def test_o3_aspect_ratio_outside_the_enum_is_refused() -> None:
    assert_invalid(o3(aspect_ratio="4:3"), "aspect_ratio", "'16:9', '9:16' or '1:1'")


@pytest.mark.parametrize("quality", ["720p", "1080p"])
def test_o3_quality_enum_values_are_accepted(quality: str) -> None:
    assert parse_request(o3(quality=quality)).to_api_json()["quality"] == quality


def test_o3_quality_outside_the_enum_is_refused() -> None:
    assert_invalid(o3(quality="2k"), "quality", "'720p', '1080p' or '4k'")


def test_o3_4k_is_accepted_without_video() -> None:
    assert parse_request(o3_without_video(quality="4k")).to_api_json()["quality"] == "4k"


def test_o3_4k_with_video_is_refused() -> None:
    assert_invalid(o3(quality="4k"), "quality", "'720p' or '1080p' with a reference video")


def test_motion_control_quality_outside_the_enum_is_refused() -> None:
    assert parse_request(motion(quality="1080p")).to_api_json()["quality"] == "1080p"
    assert_invalid(motion(quality="4k"), "quality", "'720p' or '1080p'")


# ------------------------------------------------------------------------------- audio
def test_o3_generate_audio_is_accepted_without_video() -> None:
    assert parse_request(o3_without_video(generate_audio=True)).to_api_json()["generate_audio"] is True


def test_o3_generate_audio_with_video_is_refused() -> None:
    assert_invalid(o3(generate_audio=True), "generate_audio", "not allowed with a reference video")


def test_o3_generate_audio_false_with_video_is_accepted() -> None:
    assert parse_request(o3(generate_audio=False)).to_api_json()["generate_audio"] is False


def test_o3_generate_audio_must_be_a_boolean() -> None:
    assert_invalid(o3_without_video(generate_audio="loud"), "generate_audio", "valid boolean")


# ------------------------------------------------------------------------------- references with a video
def test_o3_four_images_and_elements_with_video_are_accepted() -> None:
    body = o3(
        image_urls=[IMAGE, IMAGE],
        elements=[{"frontal_image_url": IMAGE}],
        model_params={"element_list": [{"element_id": "1"}]},
    )
    assert parse_request(body)


def test_o3_more_than_four_images_and_elements_with_video_are_refused() -> None:
    body = o3(
        image_urls=[IMAGE, IMAGE, IMAGE],
        elements=[{"frontal_image_url": IMAGE}],
        model_params={"element_list": [{"element_id": "1"}]},
    )
    assert_invalid(body, "image_urls", "at most 4 with a reference video", "got 5")


def test_o3_more_than_four_references_without_video_are_accepted() -> None:
    assert parse_request(o3_without_video(image_urls=[IMAGE] * 5))


def test_o3_image_urls_refuse_an_unknown_scheme() -> None:
    assert_invalid(o3(image_urls=["gopher://host/a.jpg"]), "image_urls.0", "unknown scheme 'gopher'")


# ------------------------------------------------------------------------------- element_id
def test_element_id_integer_is_accepted_and_sent_as_a_string() -> None:
    body = o3(model_params={"element_list": [{"element_id": 789012}]})
    sent = parse_request(body).to_api_json()
    assert sent["model_params"]["element_list"] == [{"element_id": "789012"}]


def test_element_id_that_is_not_a_string_or_integer_is_refused() -> None:
    assert_invalid(o3(model_params={"element_list": [{"element_id": True}]}), "element_id", "valid string")


def test_element_id_is_required_in_an_element() -> None:
    assert_invalid(o3(model_params={"element_list": [{}]}), "model_params.element_list.0.element_id", "required")


# ------------------------------------------------------------------------------- model_params
def test_o3_watermark_info_is_accepted_and_sent() -> None:
    sent = parse_request(o3(model_params={"watermark_info": {"enabled": False}})).to_api_json()
    assert sent["model_params"] == {"watermark_info": {"enabled": False}}


def test_o3_watermark_info_enabled_must_be_a_boolean() -> None:
    assert_invalid(o3(model_params={"watermark_info": {"enabled": "maybe"}}), "watermark_info.enabled", "boolean")


def test_o3_multi_shot_with_shot_type_and_multi_prompt_summing_to_duration_is_accepted() -> None:
    body = o3(prompt=None, duration=8, model_params=multi_shot("3", 5))
    sent = parse_request(body).to_api_json()
    assert "prompt" not in sent
    assert sent["model_params"]["multi_prompt"][0] == {"index": 1, "prompt": "shot 1", "duration": "3"}
    assert sent["model_params"]["multi_prompt"][1]["duration"] == 5


def test_o3_multi_prompt_defaults_to_a_five_second_total() -> None:
    assert parse_request(o3(prompt=None, model_params=multi_shot(2, 3)))


def test_o3_multi_shot_without_shot_type_is_refused() -> None:
    params = multi_shot(5)
    del params["shot_type"]
    assert_invalid(o3(prompt=None, model_params=params), "shot_type", "required when model_params.multi_shot is true")


def test_o3_shot_type_outside_the_enum_is_refused() -> None:
    assert_invalid(o3(prompt=None, model_params=multi_shot(5, shot_type="auto")), "shot_type", "'customize'")


def test_o3_multi_shot_without_multi_prompt_is_refused() -> None:
    params = {"multi_shot": True, "shot_type": "customize"}
    assert_invalid(o3(prompt=None, model_params=params), "multi_prompt", "required when model_params.multi_shot")


def test_o3_six_shots_are_accepted() -> None:
    assert parse_request(o3(prompt=None, duration=6, model_params=multi_shot(1, 1, 1, 1, 1, 1)))


def test_o3_more_than_six_shots_are_refused() -> None:
    body = o3_without_video(prompt=None, duration=7, model_params=multi_shot(1, 1, 1, 1, 1, 1, 1))
    assert_invalid(body, "multi_prompt", "at most 6 items")


def test_o3_shot_durations_not_summing_to_duration_are_refused() -> None:
    body = o3(prompt=None, duration=10, model_params=multi_shot(3, 3))
    assert_invalid(body, "model_params.multi_prompt", "sum to duration (10 s), got 6 s")


def test_o3_shot_duration_must_be_whole_seconds() -> None:
    assert_invalid(o3(prompt=None, model_params=multi_shot("2.5", "2.5")), "duration", "whole number of seconds")


def test_o3_prompt_with_multi_prompt_is_refused_as_mutually_exclusive() -> None:
    assert_invalid(o3(model_params=multi_shot(5)), "prompt", "mutually exclusive")


def test_o3_multi_prompt_without_multi_shot_is_refused() -> None:
    params = {"multi_prompt": shots(5)}
    assert_invalid(o3(prompt=None, model_params=params), "multi_shot", "must be true")


# ------------------------------------------------------------------------------- video alternatives
@pytest.mark.parametrize("video", [{"video_urls": [VIDEO]}, {"video_urls": [VIDEO, VIDEO]}, {"video": VIDEO}])
def test_o3_video_urls_and_video_stand_for_video_url_and_are_sent_as_given(video: dict[str, Any]) -> None:
    request = parse_request(o3(video_url=None, **video))
    assert isinstance(request, KlingO3ReferenceToVideoRequest)
    assert request.has_reference_video
    sent = request.to_api_json()
    assert "video_url" not in sent
    assert {k: sent[k] for k in video} == video


@pytest.mark.parametrize("video", [{"video_urls": [VIDEO]}, {"video": VIDEO}])
def test_o3_video_alternatives_bring_the_with_video_rules(video: dict[str, Any]) -> None:
    assert_invalid(o3(video_url=None, duration=12, **video), "duration", "3-10 seconds")


def test_o3_empty_video_urls_is_refused() -> None:
    assert_invalid(o3(video_url=None, video_urls=[]), "video_urls", "at least 1 item")


def test_o3_video_refuses_a_relative_path() -> None:
    assert_invalid(o3(video_url=None, video="reference.mp4"), "video", "relative path")


# ------------------------------------------------------------------------------- motion control
def test_motion_control_minimal_request_is_accepted() -> None:
    request = parse_request(motion())
    assert isinstance(request, KlingV3MotionControlRequest)
    assert request.to_api_json() == motion()


@pytest.mark.parametrize(("field", "value"), [("image_urls", [IMAGE, IMAGE]), ("video_urls", [VIDEO, VIDEO])])
def test_motion_control_more_than_one_reference_is_refused(field: str, value: list[str]) -> None:
    assert_invalid(motion(**{field: value}), field, "at most 1 item")


@pytest.mark.parametrize("field", ["image_urls", "video_urls"])
def test_motion_control_missing_or_empty_reference_is_refused(field: str) -> None:
    assert_invalid(motion(**{field: []}), field, "at least 1 item")
    body = motion()
    del body[field]
    assert_invalid(body, field, "Field required")


def test_motion_control_model_params_are_required() -> None:
    assert_invalid(motion(model_params=None), "model_params", "Field required")


def test_motion_control_character_orientation_is_required() -> None:
    assert_invalid(motion(model_params={"keep_sound": False}), "model_params.character_orientation", "Field required")


@pytest.mark.parametrize("orientation", ["image", "video"])
def test_motion_control_character_orientation_enum_values_are_accepted(orientation: str) -> None:
    assert parse_request(motion(model_params={"character_orientation": orientation}))


def test_motion_control_character_orientation_outside_the_enum_is_refused() -> None:
    assert_invalid(
        motion(model_params={"character_orientation": "side"}), "character_orientation", "'image' or 'video'"
    )


def test_motion_control_one_element_with_video_orientation_is_accepted() -> None:
    params = {"character_orientation": "video", "element_list": [{"element_id": 123456789}]}
    sent = parse_request(motion(model_params=params)).to_api_json()
    assert sent["model_params"]["element_list"] == [{"element_id": "123456789"}]


def test_motion_control_more_than_one_element_is_refused() -> None:
    params = {"character_orientation": "video", "element_list": [{"element_id": "1"}, {"element_id": "2"}]}
    assert_invalid(motion(model_params=params), "element_list", "at most 1 item")


def test_motion_control_element_with_image_orientation_is_refused() -> None:
    params = {"character_orientation": "image", "element_list": [{"element_id": "1"}]}
    assert_invalid(motion(model_params=params), "character_orientation", "must be 'video' when")


def test_motion_control_keep_sound_is_accepted_and_sent() -> None:
    params = {"character_orientation": "video", "keep_sound": False}
    assert parse_request(motion(model_params=params)).to_api_json()["model_params"]["keep_sound"] is False


def test_motion_control_keep_sound_must_be_a_boolean() -> None:
    params = {"character_orientation": "video", "keep_sound": "loud"}
    assert_invalid(motion(model_params=params), "keep_sound", "valid boolean")


# ------------------------------------------------------------------------------- callback_url
@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/evolink",
        "https://8.8.8.8/hook",
        "https://[2001:4860:4860::8888]/hook",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    ],
)
def test_callback_url_https_public_host_up_to_2048_chars_is_accepted(url: str) -> None:
    assert parse_request(o3(callback_url=url)).to_api_json()["callback_url"] == url
    assert parse_request(motion(callback_url=url))


def test_callback_url_over_2048_chars_is_refused() -> None:
    url = "https://example.com/" + "a" * (2049 - len("https://example.com/"))
    assert_invalid(o3(callback_url=url), "callback_url", "at most 2048 characters")


@pytest.mark.parametrize("url", ["http://hooks.example.com/evolink", "ftp://example.com/x", "https:///path"])
def test_callback_url_that_is_not_https_is_refused(url: str) -> None:
    assert_invalid(o3(callback_url=url), "callback_url", "https://")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "[::1]",
        "[fd00::1]",
        "[::ffff:10.0.0.1]",
        "127.1",
        "2130706433",
        "localhost",
        "api.localhost",
    ],
)
def test_callback_url_with_a_private_or_loopback_host_is_refused(host: str) -> None:
    error = assert_invalid(o3(callback_url=f"https://{host}/hook"), "callback_url")
    assert "private, loopback" in str(error) or "localhost" in str(error)


def test_callback_url_applies_to_any_model() -> None:
    assert_invalid({"model": "veo3-fast", "prompt": "p", "callback_url": "http://x.example"}, "callback_url", "https")


# ------------------------------------------------------------------------------- extras and routing
def test_unknown_fields_are_kept_and_sent_top_level_and_nested() -> None:
    body = o3(seed=42, negative_prompt="blur", model_params={"cfg_scale": 0.5, "element_list": [{"element_id": "7"}]})
    sent = parse_request(body).to_api_json()
    assert sent["seed"] == 42
    assert sent["negative_prompt"] == "blur"
    assert sent["model_params"] == {"cfg_scale": 0.5, "element_list": [{"element_id": "7"}]}
    assert parse_request(motion(fps=30)).to_api_json()["fps"] == 30


def test_none_values_are_not_sent() -> None:
    assert "aspect_ratio" not in parse_request(o3(aspect_ratio=None)).to_api_json()
    assert "quality" not in KlingO3ReferenceToVideoRequest(prompt="p", video_url=VIDEO).to_api_json()


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        (o3(), KlingO3ReferenceToVideoRequest),
        (motion(), KlingV3MotionControlRequest),
        ({"model": "veo3-fast", "prompt": "a cat"}, VideoGenerationRequest),
    ],
)
def test_a_dict_is_routed_by_its_model(body: dict[str, Any], cls: type) -> None:
    assert type(parse_request(body)) is cls


def test_other_model_ids_use_video_generation_request_and_keep_every_field() -> None:
    body = {"model": "veo3-fast", "prompt": "a cat", "resolution": "480p", "nested": {"a": [1, 2]}}
    request = parse_request(body)
    assert isinstance(request, VideoGenerationRequest)
    assert request.to_api_json() == body


def test_other_model_ids_take_a_prompt_longer_than_klings_limit() -> None:
    body = {"model": "veo3-fast", "prompt": "x" * 10_000}
    assert parse_request(body).to_api_json() == body


def test_other_model_ids_still_need_a_string_prompt() -> None:
    assert_invalid({"model": "veo3-fast", "prompt": ["a", "cat"]}, "prompt")


def test_video_generation_request_refuses_a_model_with_its_own_class() -> None:
    with pytest.raises(ValidationError, match="use KlingO3ReferenceToVideoRequest"):
        VideoGenerationRequest(model="kling-o3-reference-to-video", prompt="p")


@pytest.mark.parametrize("body", [{"prompt": "p"}, {"model": "", "prompt": "p"}, {"model": ["x"], "prompt": "p"}])
def test_a_missing_or_malformed_model_is_a_validation_error_naming_model(body: dict[str, Any]) -> None:
    assert_invalid(body, "model")


def test_a_model_instance_is_revalidated() -> None:
    request = KlingO3ReferenceToVideoRequest.model_construct(prompt="p", video_url=VIDEO, duration=12)
    with pytest.raises(ValidationError, match="duration"):
        parse_request(request)
    valid = KlingO3ReferenceToVideoRequest(prompt="p", video_url=VIDEO, seed=1)
    assert parse_request(valid).to_api_json() == valid.to_api_json()


def test_parse_request_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="dict or an EvoLink request model"):
        parse_request("kling-o3-reference-to-video")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- responses
def test_video_generation_task_parses_the_documented_example_and_ignores_unknown_fields() -> None:
    task = VideoGenerationTask.model_validate(
        {
            "created": 1757169743,
            "id": "task-unified-1757169743-7cvnl5zw",
            "model": "kling-o3-reference-to-video",
            "object": "video.generation.task",
            "progress": 0,
            "status": "pending",
            "task_info": {"can_cancel": True, "estimated_time": 300, "video_duration": 9, "queue": 3},
            "type": "video",
            "usage": {"billing_rule": "per_second", "credits_reserved": 40.5, "user_group": "default"},
            "brand_new_field": {"x": 1},
        }
    )
    assert task.id == "task-unified-1757169743-7cvnl5zw"
    assert task.status is TaskStatus.PENDING
    assert task.usage is not None
    assert task.usage.credits_reserved == 40.5
    assert task.task_info is not None
    assert task.task_info.estimated_time == 300


def test_video_generation_task_needs_only_an_id() -> None:
    task = VideoGenerationTask.model_validate({"id": "task-unified-1"})
    assert (task.status, task.progress, task.usage) == (TaskStatus.PENDING, 0, None)
    with pytest.raises(ValidationError, match="id"):
        VideoGenerationTask.model_validate({"status": "pending"})


def test_task_detail_tolerates_missing_optional_and_null_fields() -> None:
    detail = TaskDetail.model_validate({"id": "task-unified-1", "status": "processing", "progress": None})
    assert (detail.progress, detail.results, detail.error, detail.status.is_terminal) == (0, [], None, False)
    detail = TaskDetail.model_validate({"id": "task-unified-1", "status": "pending", "results": None, "new": 1})
    assert detail.results == []


def test_task_detail_clamps_progress_into_0_to_100() -> None:
    assert TaskDetail.model_validate({"id": "t", "status": "processing", "progress": 150}).progress == 100
    assert TaskDetail.model_validate({"id": "t", "status": "processing", "progress": -5}).progress == 0


def test_completed_task_detail_has_results() -> None:
    detail = TaskDetail.model_validate({"id": "t", "status": "completed", "progress": 100, "results": [VIDEO]})
    assert detail.results == [VIDEO]
    assert detail.status.is_terminal
    with pytest.raises(ValidationError, match="at least one result URL"):
        TaskDetail.model_validate({"id": "t", "status": "completed", "results": []})


def test_failed_task_detail_carries_its_error_code_even_if_numeric() -> None:
    detail = TaskDetail.model_validate(
        {"id": "t", "status": "failed", "error": {"code": "content_policy_violation", "message": "blocked"}}
    )
    assert detail.error is not None
    assert detail.error.code == "content_policy_violation"
    numeric = TaskDetail.model_validate({"id": "t", "status": "failed", "error": {"code": 500}})
    assert numeric.error is not None
    assert numeric.error.code == "500"


def test_cancelled_status_is_parsed_and_terminal() -> None:
    detail = TaskDetail.model_validate({"id": "t", "status": "cancelled"})
    assert detail.status is TaskStatus.CANCELLED
    assert detail.status.is_terminal


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("pending", False), ("processing", False), ("completed", True), ("failed", True), ("cancelled", True)],
)
def test_task_status_is_terminal(status: str, terminal: bool) -> None:
    assert TaskStatus(status).is_terminal is terminal


def test_unknown_task_status_is_refused() -> None:
    with pytest.raises(ValidationError, match="status"):
        TaskDetail.model_validate({"id": "t", "status": "teleported"})


def test_credits_parse_the_documented_envelope() -> None:
    envelope = CreditsResponse.model_validate(
        {
            "success": True,
            "data": {
                "user": {"remaining_credits": 1200.5, "used_credits": 10},
                "token": {"remaining_credits": 300, "used_credits": 1, "unlimited_credits": False},
                "extra": True,
            },
        }
    )
    assert envelope.success
    assert envelope.data is not None
    assert envelope.data.user.remaining_credits == 1200.5
    assert envelope.data.remaining == 300  # the key's own limit is lower than the account's


def test_credits_remaining_uses_the_account_when_the_key_is_unlimited() -> None:
    credits = Credits.model_validate(
        {"user": {"remaining_credits": 50}, "token": {"remaining_credits": 0, "unlimited_credits": True}}
    )
    assert credits.remaining == 50


def test_credits_tolerate_missing_and_null_parts() -> None:
    assert Credits.model_validate({}).remaining is None
    assert Credits.model_validate({"user": None, "token": {"remaining_credits": 5}}).remaining == 5


def test_credits_envelope_with_success_false_explains_itself() -> None:
    envelope = CreditsResponse.model_validate({"success": False, "error": {"code": "x", "message": "key revoked"}})
    assert not envelope.success
    assert envelope.failure_reason == "[x] key revoked"
    assert CreditsResponse.model_validate({"success": False, "message": "nope"}).failure_reason == "nope"


# ------------------------------------------------------------------------------- estimate_credits
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (o3(), 40.5),  # 8.1 x default 5 s at default 720p
        (o3(duration=3), 24.3),  # the 3 s minimum
        (o3(duration=10, quality="1080p"), 108.054),
        (o3_without_video(duration=15, quality="1080p"), 162.081),
        (o3(quality="1080p"), 54.027),
        (motion(), 81.648),  # 8.1648 x 10 s (image orientation)
        (motion(model_params={"character_orientation": "video"}), 244.944),  # 8.1648 x 30 s
        (motion(quality="1080p", model_params={"character_orientation": "video"}), 326.5104),
        (motion(quality="1080p"), 108.8368),
    ],
)
def test_estimate_credits_follows_the_facts_pricing(body: dict[str, Any], expected: float) -> None:
    assert estimate_credits(parse_request(body)) == pytest.approx(expected)
    assert estimate_credits(body) == pytest.approx(expected)  # a dict is validated first


def test_estimate_credits_is_an_upper_bound_rounded_up_to_4_decimals() -> None:
    assert estimate_credits(o3(quality="1080p")) == 54.027  # not 54.0271 from floating-point noise


@pytest.mark.parametrize(
    "body",
    [
        {"model": "veo3-fast", "prompt": "p"},
        o3_without_video(quality="4k"),
        o3_without_video(generate_audio=True),
    ],
)
def test_estimate_credits_is_none_without_a_known_price(body: dict[str, Any]) -> None:
    assert estimate_credits(body) is None


# ------------------------------------------------------------------------------------------ media inputs
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("https://cdn.example.com/a.mp4", "url"),
        ("s3://aws_conn@bucket/key.mp4", "object"),
        ("gs://bucket/key.mp4", "object"),
        ("abfs://container@account.dfs.core.windows.net/key.mp4", "object"),
        ("file:///data/a.mp4", "local"),
        ("/data/a.mp4", "local"),
    ],
)
def test_input_kind_tells_public_urls_object_storage_and_local_files_apart(value: str, kind: str) -> None:
    from airflow_provider_evolink.models import input_kind

    assert input_kind(value) == kind
    assert parse_request(o3(video_url=value)).to_api_json()["video_url"] == value  # sent as written until resolved


def test_an_object_storage_path_becomes_its_uri_with_its_conn_id() -> None:
    from airflow.sdk import ObjectStoragePath

    request = parse_request(o3(video_url=ObjectStoragePath("s3://aws_conn@bucket/ref.mp4")))
    assert request.to_api_json()["video_url"] == "s3://aws_conn@bucket/ref.mp4"


def test_media_fields_lists_every_documented_field_with_its_kind() -> None:
    from airflow_provider_evolink.models import media_fields

    request = parse_request(
        o3_without_video(
            image_urls=["/a.png"],
            elements=[{"frontal_image_url": "/b.png", "reference_image_urls": ["/c.png"]}],
        )
    )
    assert [(field.name, field.kind) for field in media_fields(request)] == [
        ("image_urls[0]", "image"),
        ("elements[0].frontal_image_url", "image"),
        ("elements[0].reference_image_urls[0]", "image"),
    ]
    motion_fields = media_fields(parse_request(motion()))
    assert [(field.name, field.kind) for field in motion_fields] == [
        ("image_urls[0]", "image"),
        ("video_urls[0]", "video"),
    ]


def test_other_models_treat_url_and_urls_fields_as_media_but_not_callback_url() -> None:
    from airflow_provider_evolink.models import media_fields

    body = {
        "model": "veo3-fast",
        "prompt": "p",
        "first_frame_url": "s3://b/f.png",
        "reference_urls": ["/r.png", "https://x.example/r.png"],
        "callback_url": "https://hooks.example.com/x",
        "seed": 1,
    }
    assert [field.name for field in media_fields(parse_request(body))] == [
        "first_frame_url",
        "reference_urls[0]",
        "reference_urls[1]",
    ]


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("first_frame_url", "frames/first.png", "relative path"),
        ("first_frame_url", "gopher://host/a.png", "unknown scheme"),
        ("first_frame_url", 42, "must be a string"),
        ("reference_urls", "s3://b/k.png", "must be a list"),
    ],
)
def test_other_models_media_fields_refuse_relative_paths_unknown_schemes_and_non_strings(
    field: str, value: Any, rule: str
) -> None:
    assert_invalid({"model": "veo3-fast", "prompt": "p", field: value}, field, rule)


# ---------------------------------------------------------------------------------------------- credits
RESERVED = Usage(billing_rule="per_second", credits_reserved=40.5)


def test_credit_usage_of_a_submitted_task_is_its_reservation() -> None:
    assert credit_usage(RESERVED) == {
        "billing_rule": "per_second",
        "credits_reserved": 40.5,
        "credits_used": None,
        "credits_refunded": None,
        "refunded": False,
        "credits": 40.5,
    }


def test_credit_usage_of_a_failed_task_says_it_was_refunded() -> None:
    usage = credit_usage(RESERVED, TaskStatus.FAILED)

    assert usage["refunded"] is True
    assert usage["credits_refunded"] == 40.5
    assert usage["credits"] == 0.0


def test_credit_usage_of_a_cancelled_task_keeps_the_reservation_as_an_upper_bound() -> None:
    usage = credit_usage(RESERVED, TaskStatus.CANCELLED)

    assert usage["refunded"] is False
    assert usage["credits"] == 40.5


def test_credit_usage_takes_what_a_task_detail_reports() -> None:
    detail = TaskDetail.model_validate(
        {
            "id": "task-unified-1",
            "status": "completed",
            "results": ["https://cdn.example.com/a.mp4"],
            "usage": {"billing_rule": "per_second", "credits_used": 32.4, "credits_refunded": 8.1},
        }
    )

    usage = credit_usage(RESERVED, detail.status, detail.usage)

    assert usage["credits_used"] == 32.4
    assert usage["credits_refunded"] == 8.1
    assert usage["credits"] == 32.4
    assert usage["refunded"] is False


def test_credit_usage_subtracts_a_reported_partial_refund_from_the_reservation() -> None:
    assert credit_usage(RESERVED, TaskStatus.COMPLETED, Usage(credits_refunded=8.1))["credits"] == 32.4


def test_credit_usage_without_any_usage_knows_nothing_unless_refunded() -> None:
    assert credit_usage(None)["credits"] is None
    assert credit_usage(None, TaskStatus.FAILED)["credits"] == 0.0


def test_dag_facing_modules_leave_the_answer_models_unbuilt_until_a_task_reads_one() -> None:
    """A DAG file never reads an answer: importing what it uses must not define the response models (a fifth of
    the provider's import cost, ``benchmarks/import_cost.py``), while ``models.TaskDetail`` and the others still
    resolve to the classes the hook returns."""
    code = (
        "import json, sys\n"
        "import airflow_provider_evolink.operators.evolink, airflow_provider_evolink.sensors.evolink\n"
        "import airflow_provider_evolink.transfers.evolink_to_storage, airflow_provider_evolink.triggers.evolink\n"
        "import airflow_provider_evolink.hooks.evolink, airflow_provider_evolink.plugins.gallery\n"
        "before = 'airflow_provider_evolink.models.responses' in sys.modules\n"
        "from airflow_provider_evolink.models import TaskDetail\n"
        "print(json.dumps([before, TaskDetail.__module__]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, "airflow_provider_evolink.models.responses"]


def test_every_answer_model_is_importable_from_models() -> None:
    import airflow_provider_evolink.models.responses as response_models

    for name in response_models.__all__:
        assert getattr(models, name) is getattr(response_models, name)
    with pytest.raises(AttributeError, match="no attribute 'NotAModel'"):
        models.NotAModel  # noqa: B018
