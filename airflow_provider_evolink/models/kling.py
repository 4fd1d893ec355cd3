"""Create requests of the Kling O3 and V3 families beyond the two typed first (:mod:`.requests`):
``kling-o3-text-to-video``, ``kling-o3-image-to-video``, ``kling-o3-video-edit``, ``kling-v3-text-to-video`` and
``kling-v3-image-to-video``.

Ranges, choices and prices come from each id's catalogue entry (:mod:`.catalogue`); the multi-shot, frame and
element rules are here. Source: ``api_reference/openapi/kling-o3.openapi.yaml`` and ``kling-v3.openapi.yaml``
(written from EvoLink's Kling docs pages) and ``api_reference/evolink-api.md``.
"""

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.kling_reference import O3_MAX_SHOTS, Element, Shot, WatermarkInfo
from airflow_provider_evolink.models.media import MediaKind, MediaUrl
from airflow_provider_evolink.models.requests import _Model
from airflow_provider_evolink.models.typed import CatalogueRequest

__all__ = [
    "KlingModelParams",
    "KlingO3ImageToVideoRequest",
    "KlingO3TextToVideoRequest",
    "KlingO3VideoEditRequest",
    "KlingV3ImageToVideoRequest",
    "KlingV3TextToVideoRequest",
]

#: A shot's prompt in ``model_params.multi_prompt`` of the image-to-video and V3 models: at most this many characters.
MAX_SHOT_PROMPT_CHARS = 512
#: Elements allowed with a first frame (image-to-video) and, with a video to edit, images + elements together.
MAX_ELEMENTS_WITH_FIRST_FRAME, MAX_REFERENCES_WITH_VIDEO = 3, 4


class KlingModelParams(_Model):
    """``model_params`` of the Kling O3/V3 text- and image-to-video models: multi-shot settings, elements, watermark.

    ``multi_shot`` true needs ``shot_type``: ``customize`` (shots come from ``multi_prompt``, 1-6 of them, and the
    prompt is ignored) or, on V3, ``intelligence`` (the model cuts the prompt into shots itself).
    """

    multi_shot: bool | None = None
    shot_type: Literal["customize", "intelligence"] | None = None
    multi_prompt: list[Shot] | None = Field(default=None, min_length=1, max_length=O3_MAX_SHOTS)
    element_list: list[Element] | None = None
    watermark_info: WatermarkInfo | None = None


class _KlingRequest(CatalogueRequest):
    """Fields the Kling text- and image-to-video models share.

    :ivar prompt: at most 2,500 characters; required unless ``model_params`` asks for customized multi-shot.
    :ivar duration: output seconds, 3-15 (default 5), billed by it.
    :ivar quality: ``720p`` (default), ``1080p`` or ``4k`` (no published 4k price).
    :ivar sound: ``"on"`` or ``"off"`` (default): a sound track, priced higher.
    """

    prompt: str | None = None
    duration: int | None = None
    quality: str | None = None
    sound: Literal["on", "off"] | None = None
    model_params: KlingModelParams | None = None
    #: ``shot_type`` values this model takes; the largest ``element_list`` (``None``: no elements at all).
    shot_types: ClassVar[tuple[str, ...]] = ("customize",)
    max_elements: ClassVar[int | None] = 7

    @model_validator(mode="after")
    def _multi_shot_rules(self) -> Self:
        title, params = type(self).__name__, self.model_params or KlingModelParams()
        elements = params.element_list or []
        if elements and self.max_elements is None:
            fail_at(
                title,
                ("model_params", "element_list"),
                "elements_not_offered",
                f"model_params.element_list is not accepted by {self.model}",
                len(elements),
            )
        if self.max_elements is not None and len(elements) > self.max_elements:
            fail_at(
                title,
                ("model_params", "element_list"),
                "too_many_elements",
                f"model_params.element_list must hold at most {self.max_elements} elements for {self.model} "
                f"(got {len(elements)})",
                len(elements),
            )
        if not params.multi_shot:
            if params.multi_prompt:
                fail_at(
                    title,
                    ("model_params", "multi_shot"),
                    "multi_prompt_needs_multi_shot",
                    "model_params.multi_shot must be true when model_params.multi_prompt is given",
                    None,
                )
            return self._prompt_needed(title)
        if params.shot_type is None or params.shot_type not in self.shot_types:
            fail_at(
                title,
                ("model_params", "shot_type"),
                "shot_type",
                f"model_params.shot_type must be one of {', '.join(self.shot_types)} when model_params.multi_shot "
                f"is true (got {params.shot_type!r})",
                params.shot_type,
            )
        if params.shot_type == "intelligence":
            return self._prompt_needed(title)
        return self._shots_add_up(title, params.multi_prompt or [])

    def _prompt_needed(self, title: str) -> Self:
        if not self.prompt and self.prompt_required_alone:
            fail_at(
                title,
                ("prompt",),
                "prompt_required",
                f"prompt is required for {self.model} unless model_params.multi_shot is true with "
                "shot_type 'customize' and multi_prompt",
                self.prompt,
            )
        return self

    def _shots_add_up(self, title: str, shots: list[Shot]) -> Self:
        loc = ("model_params", "multi_prompt")
        if not shots:
            fail_at(
                title,
                loc,
                "multi_shot_needs_multi_prompt",
                f"model_params.multi_prompt is required with shot_type 'customize' (1-{O3_MAX_SHOTS} shots)",
                None,
            )
        for index, shot in enumerate(shots):
            if self.shot_prompt_limit and len(shot.prompt) > MAX_SHOT_PROMPT_CHARS:
                fail_at(
                    title,
                    (*loc, index, "prompt"),
                    "shot_prompt_too_long",
                    f"model_params.multi_prompt[{index}].prompt must be at most {MAX_SHOT_PROMPT_CHARS} "
                    f"characters (got {len(shot.prompt)})",
                    len(shot.prompt),
                )
        total, duration = sum(shot.seconds for shot in shots), self.priced().seconds
        if total != duration:
            fail_at(
                title,
                loc,
                "multi_prompt_duration_sum",
                f"model_params.multi_prompt shot durations must sum to duration ({duration} s), got {total} s",
                total,
            )
        return self

    #: Whether ``prompt`` is required outside customized multi-shot (image-to-video may go without one).
    prompt_required_alone: ClassVar[bool] = True
    #: Whether shot prompts are limited to :data:`MAX_SHOT_PROMPT_CHARS`.
    shot_prompt_limit: ClassVar[bool] = True


class KlingO3TextToVideoRequest(_KlingRequest):
    """``kling-o3-text-to-video``: a prompt (or up to 6 customized shots), 3-15 s, ``aspect_ratio`` 16:9 (default),
    9:16 or 1:1; up to 7 elements (``<<<element_1>>>`` in the prompt)."""

    family: ClassVar[str] = "Kling O3"
    mode: ClassVar[str] = "text-to-video"
    model: str = "kling-o3-text-to-video"
    aspect_ratio: str | None = None
    shot_prompt_limit: ClassVar[bool] = False


class KlingO3ImageToVideoRequest(_KlingRequest):
    """``kling-o3-image-to-video``: ``image_start`` (first frame), ``image_end`` (last frame, needs a first frame
    and at most 2 images in all), ``image_urls`` (up to 7 reference images); at most 3 elements with a first frame;
    jpg/png, at most 10 MB, sides of 300 px or more."""

    family: ClassVar[str] = "Kling O3"
    mode: ClassVar[str] = "image-to-video"
    model: str = "kling-o3-image-to-video"
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = (
        (("image_start",), "image"),
        (("image_end",), "image"),
        (("image_urls", "*"), "image"),
    )
    image_start: MediaUrl | None = None
    image_end: MediaUrl | None = None
    image_urls: list[MediaUrl] | None = None
    aspect_ratio: str | None = None

    @model_validator(mode="after")
    def _frames(self) -> Self:
        title = type(self).__name__
        if self.image_end and not self.image_start:
            fail_at(title, ("image_end",), "end_needs_start", "image_end needs image_start (the first frame)", None)
        images = sum(1 for image in (self.image_start, self.image_end) if image) + len(self.image_urls or ())
        if self.image_end and images > 2:
            fail_at(
                title,
                ("image_end",),
                "end_frame_with_references",
                f"image_end is not allowed with more than 2 images in all (got {images})",
                images,
            )
        if not images:
            fail_at(
                title,
                ("image_start",),
                "image_needed",
                "image_start, image_end or image_urls must give at least one image",
                None,
            )
        elements = len((self.model_params.element_list if self.model_params else None) or ())
        if self.image_start and elements > MAX_ELEMENTS_WITH_FIRST_FRAME:
            fail_at(
                title,
                ("model_params", "element_list"),
                "too_many_elements_with_frame",
                f"model_params.element_list must hold at most {MAX_ELEMENTS_WITH_FIRST_FRAME} elements with "
                f"image_start (got {elements})",
                elements,
            )
        return self


class KlingO3VideoEditRequest(CatalogueRequest):
    """``kling-o3-video-edit``: edits ``video_url`` (mp4/mov, 3 s or more, 720-2160 px, 24-60 fps, at most 200 MB)
    as ``prompt`` says; output length and shape follow the video. ``image_urls`` + elements at most 4;
    ``keep_original_sound`` (default true); ``quality`` 720p or 1080p. Billed per second of the video, which is
    not known before submitting: :func:`~airflow_provider_evolink.models.estimate_credits` has no estimate."""

    family: ClassVar[str] = "Kling O3"
    mode: ClassVar[str] = "video edit"
    model: str = "kling-o3-video-edit"
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = (
        (("video_url",), "video"),
        (("image_urls", "*"), "image"),
    )
    prompt: str | None = None
    video_url: MediaUrl
    keep_original_sound: bool | None = None
    image_urls: list[MediaUrl] | None = None
    quality: str | None = None
    model_params: KlingModelParams | None = None

    @model_validator(mode="after")
    def _references(self) -> Self:
        params = self.model_params or KlingModelParams()
        references = len(self.image_urls or ()) + len(params.element_list or ())
        if references > MAX_REFERENCES_WITH_VIDEO:
            fail_at(
                type(self).__name__,
                ("image_urls",),
                "too_many_references_with_video",
                f"image_urls + model_params.element_list must be at most {MAX_REFERENCES_WITH_VIDEO} "
                f"(got {references})",
                references,
            )
        if params.multi_shot:
            fail_at(
                type(self).__name__,
                ("model_params", "multi_shot"),
                "multi_shot_not_offered",
                "model_params.multi_shot is not offered by kling-o3-video-edit",
                True,
            )
        return self


class KlingV3TextToVideoRequest(_KlingRequest):
    """``kling-v3-text-to-video``: a prompt (with ``negative_prompt``), 3-15 s, ``aspect_ratio`` 16:9, 9:16 or 1:1;
    multi-shot ``customize`` (up to 6 shots, 512 characters each) or ``intelligence``; no elements."""

    family: ClassVar[str] = "Kling V3"
    mode: ClassVar[str] = "text-to-video"
    model: str = "kling-v3-text-to-video"
    negative_prompt: str | None = None
    aspect_ratio: str | None = None
    shot_types: ClassVar[tuple[str, ...]] = ("customize", "intelligence")
    max_elements: ClassVar[int | None] = None


class KlingV3ImageToVideoRequest(_KlingRequest):
    """``kling-v3-image-to-video``: ``image_start`` (required first frame; jpg/png, at most 10 MB, 300 px or more)
    and ``image_end`` (optional last frame); the output's shape follows the first frame; ``prompt`` optional; up to 3
    elements; multi-shot as in :class:`KlingV3TextToVideoRequest`."""

    family: ClassVar[str] = "Kling V3"
    mode: ClassVar[str] = "image-to-video"
    model: str = "kling-v3-image-to-video"
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = (
        (("image_start",), "image"),
        (("image_end",), "image"),
    )
    image_start: MediaUrl
    image_end: MediaUrl | None = None
    negative_prompt: str | None = None
    shot_types: ClassVar[tuple[str, ...]] = ("customize", "intelligence")
    max_elements: ClassVar[int | None] = MAX_ELEMENTS_WITH_FIRST_FRAME
    prompt_required_alone: ClassVar[bool] = False
