"""
Create requests of the two Kling models typed first, with their own classes (not catalogue-driven):
``kling-o3-reference-to-video`` and ``kling-v3-motion-control``, and the parts the Kling families share (elements,
watermark, multi-shot shots).

Sources: ``kling-o3-reference-to-video.openapi.yaml`` and ``kling-v3-motion-control.openapi.yaml`` in
``airflow_provider_evolink/api_reference/openapi/``, and ``airflow_provider_evolink/api_reference/evolink-api.md``.
Where the documents disagree the models accept the union ("Where the documents disagree"). Imported when one of
these models is first parsed (:func:`~airflow_provider_evolink.models.requests.request_class`), not at import.
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from airflow_provider_evolink.models.catalogue import PricedRequest
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.media import MediaUrl
from airflow_provider_evolink.models.requests import EvoLinkRequest, _Model

__all__ = [
    "MAX_PROMPT_CHARS",
    "MOTION_CONTROL_MAX_SECONDS",
    "O3_MAX_SHOTS",
    "Element",
    "KlingO3ReferenceToVideoRequest",
    "KlingV3MotionControlRequest",
    "Shot",
    "SubjectElement",
    "WatermarkInfo",
]

MAX_PROMPT_CHARS = 2500
#: O3 output length in seconds: 3–15 without a reference video, 3–10 with one; 5 when not given.
O3_MIN_SECONDS, O3_MAX_SECONDS, O3_MAX_SECONDS_WITH_VIDEO, O3_DEFAULT_SECONDS = 3, 15, 10, 5
#: O3 with a reference video: reference images + elements together.
O3_MAX_REFERENCES_WITH_VIDEO = 4
#: O3 ``model_params.multi_prompt``: at most this many shots.
O3_MAX_SHOTS = 6
#: Motion control output is as long as its reference video; the longest reference each orientation allows
#: (``airflow_provider_evolink/api_reference/evolink-api.md``, "Where the documents disagree"): ``image`` up to 10 s,
#: ``video`` up to 30 s.
MOTION_CONTROL_MAX_SECONDS = {"image": 10, "video": 30}


def _element_id(value: Any) -> Any:
    # O3 pages show an integer ID, the OpenAPI files a string: send a string (a bool is an int but never an ID).
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
ElementId = Annotated[str, BeforeValidator(_element_id), Field(min_length=1)]


class Element(_Model):
    """An entry of ``model_params.element_list``: a pre-built subject from the element library.

    ``element_id`` may be given as an integer; it is sent as a string (the OpenAPI type).
    """

    element_id: ElementId


class WatermarkInfo(_Model):
    """``model_params.watermark_info``."""

    enabled: bool | None = None


class Shot(_Model):
    """One entry of O3 ``model_params.multi_prompt`` (product page): ``{index, prompt, duration}``.

    ``duration`` is documented as a string of seconds (``"3"``); an integer is accepted too and sent as given.
    """

    index: int | None = Field(default=None, ge=1)
    prompt: Prompt
    duration: int | str

    @field_validator("duration")
    @classmethod
    def _positive_seconds(cls, value: int | str) -> int | str:
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            raise ValueError("shot duration must be a whole number of seconds, e.g. 3 or '3'") from None
        if seconds < 1:
            raise ValueError("shot duration must be at least 1 second")
        return value

    @property
    def seconds(self) -> int:
        return int(self.duration)


class SubjectElement(_Model):
    """An entry of O3 ``elements`` (images-and-elements page): a subject described by images."""

    frontal_image_url: MediaUrl | None = None
    reference_image_urls: list[MediaUrl] | None = None


# ------------------------------------------------------------------------------------------- Kling O3
class O3ModelParams(_Model):
    """O3 ``model_params``: elements, watermark and multi-shot settings (OpenAPI + product page).

    ``multi_shot`` true needs ``shot_type`` (``customize``) and ``multi_prompt`` (1–6 shots);
    ``multi_prompt`` without ``multi_shot`` true is refused (it would be ignored while ``prompt`` is missing).
    """

    element_list: list[Element] | None = None
    watermark_info: WatermarkInfo | None = None
    multi_shot: bool | None = None
    shot_type: Literal["customize"] | None = None
    multi_prompt: list[Shot] | None = Field(default=None, min_length=1, max_length=O3_MAX_SHOTS)

    @model_validator(mode="after")
    def _multi_shot_rules(self) -> Self:
        title = type(self).__name__
        if self.multi_shot:
            if self.shot_type is None:
                fail_at(
                    title,
                    ("shot_type",),
                    "multi_shot_needs_shot_type",
                    "model_params.shot_type is required when model_params.multi_shot is true (use 'customize')",
                    None,
                )
            if not self.multi_prompt:
                fail_at(
                    title,
                    ("multi_prompt",),
                    "multi_shot_needs_multi_prompt",
                    "model_params.multi_prompt is required when model_params.multi_shot is true "
                    f"(1-{O3_MAX_SHOTS} shots)",
                    None,
                )
        elif self.multi_prompt:
            fail_at(
                title,
                ("multi_shot",),
                "multi_prompt_needs_multi_shot",
                "model_params.multi_shot must be true when model_params.multi_prompt is given",
                self.multi_shot,
            )
        return self


class KlingO3ReferenceToVideoRequest(EvoLinkRequest):
    """Create request for ``kling-o3-reference-to-video``.

    Source: ``kling-o3-reference-to-video.openapi.yaml``, ``.api-page.txt``,
    ``.images-and-elements.api-page.txt`` and ``kling-o3-product-page.txt``.

    Rules (each error names the field):

    * ``prompt`` ≤ 2500 chars; required unless ``model_params.multi_shot`` is true with ``multi_prompt``,
      and then it must be omitted (the two are mutually exclusive).
    * Reference video: ``video_url``, or ``video_urls`` (first one used), or ``video``.
      With a video: ``duration`` 3–10 s, ``quality`` 720p/1080p, no ``generate_audio`` (sound is forced
      off), images + elements ≤ 4. Without one: ``duration`` 3–15 s, ``quality`` may also be ``4k``.
    * ``aspect_ratio`` one of ``16:9``, ``9:16``, ``1:1``.
    * ``multi_prompt``: ≤ 6 shots whose durations sum to ``duration`` (default 5 s).
    """

    model: Literal["kling-o3-reference-to-video"] = "kling-o3-reference-to-video"
    media_inputs = (
        (("video_url",), "video"),
        (("video_urls", "*"), "video"),
        (("video",), "video"),
        (("image_urls", "*"), "image"),
        (("elements", "*", "frontal_image_url"), "image"),
        (("elements", "*", "reference_image_urls", "*"), "image"),
    )
    prompt: Prompt | None = None
    video_url: MediaUrl | None = None
    video_urls: list[MediaUrl] | None = Field(default=None, min_length=1)
    video: MediaUrl | None = None
    keep_original_sound: bool | None = None
    image_urls: list[MediaUrl] | None = None
    elements: list[SubjectElement] | None = None
    duration: int | None = Field(default=None, ge=O3_MIN_SECONDS, le=O3_MAX_SECONDS)
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    quality: Literal["720p", "1080p", "4k"] | None = None
    generate_audio: bool | None = None
    model_params: O3ModelParams | None = None

    @property
    def has_reference_video(self) -> bool:
        return bool(self.video_url or self.video_urls or self.video)

    @property
    def effective_duration(self) -> int:
        """Output length in seconds (the API default is 5)."""
        return self.duration if self.duration is not None else O3_DEFAULT_SECONDS

    def priced(self) -> PricedRequest:
        """Quality (720p by default), output seconds and whether sound is asked for (priced apart: no estimate)."""
        return PricedRequest(self.quality or "720p", self.effective_duration, sound=bool(self.generate_audio))

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        title = type(self).__name__
        params = self.model_params
        multi_prompt = params.multi_prompt if params and params.multi_shot else None
        if multi_prompt:
            if self.prompt is not None:
                fail_at(
                    title,
                    ("prompt",),
                    "prompt_with_multi_prompt",
                    "prompt must be omitted when model_params.multi_prompt is given (they are mutually exclusive)",
                    self.prompt,
                )
            total = sum(shot.seconds for shot in multi_prompt)
            if total != self.effective_duration:
                fail_at(
                    title,
                    ("model_params", "multi_prompt"),
                    "multi_prompt_duration_sum",
                    "model_params.multi_prompt shot durations must sum to duration "
                    f"({self.effective_duration} s), got {total} s",
                    [shot.duration for shot in multi_prompt],
                )
        elif self.prompt is None:
            fail_at(
                title,
                ("prompt",),
                "prompt_required",
                "prompt is required unless model_params.multi_shot is true with model_params.multi_prompt",
                None,
            )

        if self.has_reference_video:
            if self.duration is not None and self.duration > O3_MAX_SECONDS_WITH_VIDEO:
                fail_at(
                    title,
                    ("duration",),
                    "duration_with_video",
                    f"duration must be {O3_MIN_SECONDS}-{O3_MAX_SECONDS_WITH_VIDEO} seconds with a reference "
                    f"video (got {self.duration}; up to {O3_MAX_SECONDS} only without one)",
                    self.duration,
                )
            if self.quality == "4k":
                fail_at(
                    title,
                    ("quality",),
                    "quality_with_video",
                    "quality must be '720p' or '1080p' with a reference video ('4k' only without one)",
                    self.quality,
                )
            if self.generate_audio:
                fail_at(
                    title,
                    ("generate_audio",),
                    "generate_audio_with_video",
                    "generate_audio is not allowed with a reference video (sound is forced off)",
                    self.generate_audio,
                )
            references = (
                len(self.image_urls or ())
                + len(self.elements or ())
                + len((params.element_list if params else None) or ())
            )
            if references > O3_MAX_REFERENCES_WITH_VIDEO:
                fail_at(
                    title,
                    ("image_urls",),
                    "too_many_references_with_video",
                    "image_urls + elements (elements and model_params.element_list) must be at most "
                    f"{O3_MAX_REFERENCES_WITH_VIDEO} with a reference video (got {references})",
                    references,
                )
        return self


# ---------------------------------------------------------------------------------- Kling V3 motion
class MotionControlModelParams(_Model):
    """Motion control ``model_params`` (required): orientation, at most one element, sound, watermark."""

    character_orientation: Literal["image", "video"]
    element_list: list[Element] | None = Field(default=None, max_length=1)
    keep_sound: bool | None = None
    watermark_info: WatermarkInfo | None = None

    @model_validator(mode="after")
    def _element_needs_video_orientation(self) -> Self:
        if self.element_list and self.character_orientation != "video":
            fail_at(
                type(self).__name__,
                ("character_orientation",),
                "element_needs_video_orientation",
                "model_params.character_orientation must be 'video' when model_params.element_list is used",
                self.character_orientation,
            )
        return self


class KlingV3MotionControlRequest(EvoLinkRequest):
    """Create request for ``kling-v3-motion-control`` (``kling-v3-motion-control.openapi.yaml``).

    Exactly one reference image (``image_urls``) and one reference video (``video_urls``, 3–30 s; the
    output is as long as it); ``model_params.character_orientation`` (``image``/``video``) is required;
    at most one element, and then the orientation must be ``video``; ``keep_sound``; ``prompt``
    optional, ≤ 2500 chars; ``quality`` 720p/1080p.
    """

    model: Literal["kling-v3-motion-control"] = "kling-v3-motion-control"
    media_inputs = ((("image_urls", "*"), "image"), (("video_urls", "*"), "video"))
    prompt: Prompt | None = None
    image_urls: list[MediaUrl] = Field(min_length=1, max_length=1)
    video_urls: list[MediaUrl] = Field(min_length=1, max_length=1)
    quality: Literal["720p", "1080p"] | None = None
    model_params: MotionControlModelParams

    def priced(self) -> PricedRequest:
        """Quality (720p by default) and the longest output the orientation allows (the reference video's length is
        not known before submitting): an upper bound."""
        return PricedRequest(
            self.quality or "720p", MOTION_CONTROL_MAX_SECONDS[self.model_params.character_orientation]
        )
