"""
Pydantic v2 models of the EvoLink video API contract: requests per model, task detail, credits, errors.

Sources (``../shared/evolink-api/``): ``kling-o3-reference-to-video.openapi.yaml`` (+ its API pages and the
product page), ``kling-v3-motion-control.openapi.yaml``, ``get-task-detail.openapi.yaml`` and ``FACTS.md``.
Where the documents disagree the models accept the union (``../shared/DESIGN.md``, "Where the seed
documents disagree"). Request models keep unknown fields and send them (the API evolves); response
models ignore what they do not know and tolerate missing optional fields.

Build a request once, validate it here, and serialise it with :meth:`EvoLinkRequest.to_api_json`:
nothing else assembles EvoLink JSON.
"""

from __future__ import annotations

import ipaddress
import math
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "KLING_O3_REFERENCE_TO_VIDEO",
    "KLING_V3_MOTION_CONTROL",
    "PRICING",
    "ApiErrorBody",
    "Credits",
    "EvoLinkRequest",
    "KlingO3ReferenceToVideoRequest",
    "KlingV3MotionControlRequest",
    "TaskDetail",
    "TaskError",
    "TaskInfo",
    "TaskStatus",
    "Usage",
    "VideoGenerationRequest",
    "VideoGenerationTask",
    "estimate_credits",
    "parse_request",
]

KLING_O3_REFERENCE_TO_VIDEO = "kling-o3-reference-to-video"
KLING_V3_MOTION_CONTROL = "kling-v3-motion-control"

MAX_PROMPT_CHARS = 2500
MAX_CALLBACK_URL_CHARS = 2048

#: Credits per second of output by model and quality (FACTS.md "Pricing", from EvoLink's product pages).
PRICING: dict[str, dict[str, float]] = {
    KLING_O3_REFERENCE_TO_VIDEO: {"720p": 8.1, "1080p": 10.8054},
    KLING_V3_MOTION_CONTROL: {"720p": 8.1648, "1080p": 10.88368},
}
#: O3 bills at least this many seconds (FACTS.md).
O3_MIN_BILLED_SECONDS = 3
#: Motion control output is as long as its reference video; the longest reference each orientation allows
#: (DESIGN.md, ``max_credits``): ``image`` up to 10 s, ``video`` up to 30 s.
MOTION_CONTROL_MAX_SECONDS = {"image": 10, "video": 30}


# --------------------------------------------------------------------------------------------- helpers
def _http_url(value: str) -> str:
    """An absolute ``http(s)`` URL (``format: uri`` in the OpenAPI files). Reachability is the server's job."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


def _callback_url(value: str) -> str:
    """``callback_url`` rules: HTTPS only, ≤ 2048 characters, no private/loopback IP literal host."""
    if len(value) > MAX_CALLBACK_URL_CHARS:
        raise ValueError(f"must be at most {MAX_CALLBACK_URL_CHARS} characters (got {len(value)})")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL (EvoLink only calls back over HTTPS)")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname.lower() == "localhost":
            raise ValueError("must not point at localhost (EvoLink refuses internal addresses)") from None
        return value
    if not address.is_global:
        raise ValueError(f"must not point at a private, loopback or reserved address ({address})")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
CallbackUrl = Annotated[str, AfterValidator(_callback_url)]
Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
# The O3 pages show ``element_id`` as an integer, the OpenAPI files as a string: accept both, send a string.
ElementId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]


class _Model(BaseModel):
    """Request-side base: unknown fields are kept and sent, values are validated on assignment too."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, populate_by_name=True)


class Element(_Model):
    """An entry of ``model_params.element_list``: a pre-built subject from the element library."""

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
            raise ValueError("must be a whole number of seconds, e.g. 3 or '3'") from None
        if seconds < 1:
            raise ValueError("must be at least 1 second")
        return value

    @property
    def seconds(self) -> int:
        return int(self.duration)


class SubjectElement(_Model):
    """An entry of O3 ``elements`` (images-and-elements page): a subject described by images."""

    frontal_image_url: HttpUrl | None = None
    reference_image_urls: list[HttpUrl] | None = None


class EvoLinkRequest(_Model):
    """Common base of every create request (``POST /v1/videos/generations``).

    :ivar model: the EvoLink model id.
    :ivar callback_url: optional HTTPS URL EvoLink calls on completion (≤ 2048 chars, public host).
    """

    model: str = Field(min_length=1)
    callback_url: CallbackUrl | None = None

    def to_api_json(self) -> dict[str, Any]:
        """The JSON body to send: every field the user gave (extras included), ``None`` values dropped."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


# ------------------------------------------------------------------------------------------- Kling O3
class O3ModelParams(_Model):
    """O3 ``model_params``: elements, watermark and multi-shot settings (OpenAPI + product page)."""

    element_list: list[Element] | None = None
    watermark_info: WatermarkInfo | None = None
    multi_shot: bool | None = None
    shot_type: Literal["customize"] | None = None
    multi_prompt: list[Shot] | None = Field(default=None, min_length=1, max_length=6)

    @model_validator(mode="after")
    def _multi_shot_rules(self) -> Self:
        if self.multi_shot:
            if self.shot_type is None:
                raise ValueError("model_params.shot_type is required when multi_shot is true (use 'customize')")
            if not self.multi_prompt:
                raise ValueError("model_params.multi_prompt is required when multi_shot is true")
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
    * ``multi_prompt``: ≤ 6 shots whose durations sum to ``duration`` (default 5 s).
    """

    model: Literal["kling-o3-reference-to-video"] = "kling-o3-reference-to-video"
    prompt: Prompt | None = None
    video_url: HttpUrl | None = None
    video_urls: list[HttpUrl] | None = Field(default=None, min_length=1)
    video: HttpUrl | None = None
    keep_original_sound: bool | None = None
    image_urls: list[HttpUrl] | None = None
    elements: list[SubjectElement] | None = None
    duration: int | None = Field(default=None, ge=3, le=15)
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
        return self.duration if self.duration is not None else 5

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        params = self.model_params
        multi_prompt = params.multi_prompt if params and params.multi_shot else None
        if multi_prompt:
            if self.prompt is not None:
                raise ValueError("prompt must be omitted when model_params.multi_prompt is given (mutually exclusive)")
            total = sum(shot.seconds for shot in multi_prompt)
            if total != self.effective_duration:
                raise ValueError(
                    "model_params.multi_prompt durations must sum to duration "
                    f"({self.effective_duration} s), got {total} s"
                )
        elif self.prompt is None:
            raise ValueError("prompt is required (unless model_params.multi_shot is true with multi_prompt)")

        if self.has_reference_video:
            if self.duration is not None and self.duration > 10:
                raise ValueError(f"duration must be 3-10 seconds with a reference video (got {self.duration})")
            if self.quality == "4k":
                raise ValueError("quality must be '720p' or '1080p' with a reference video ('4k' needs no video)")
            if self.generate_audio:
                raise ValueError("generate_audio is not allowed with a reference video (sound is forced off)")
            references = (
                len(self.image_urls or ())
                + len(self.elements or ())
                + len((params.element_list if params else None) or ())
            )
            if references > 4:
                raise ValueError(
                    "image_urls + elements (model_params.element_list and elements) must be at most 4 "
                    f"with a reference video (got {references})"
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
            raise ValueError("model_params.character_orientation must be 'video' when element_list is used")
        return self


class KlingV3MotionControlRequest(EvoLinkRequest):
    """Create request for ``kling-v3-motion-control`` (``kling-v3-motion-control.openapi.yaml``).

    Exactly one reference image (``image_urls``) and one reference video (``video_urls``, 3–30 s; the
    output is as long as it); ``model_params.character_orientation`` is required; at most one element,
    and then the orientation must be ``video``; ``prompt`` optional, ≤ 2500 chars.
    """

    model: Literal["kling-v3-motion-control"] = "kling-v3-motion-control"
    prompt: Prompt | None = None
    image_urls: list[HttpUrl] = Field(min_length=1, max_length=1)
    video_urls: list[HttpUrl] = Field(min_length=1, max_length=1)
    quality: Literal["720p", "1080p"] | None = None
    model_params: MotionControlModelParams


# ------------------------------------------------------------------------------------- other models
class VideoGenerationRequest(EvoLinkRequest):
    """Create request for any other EvoLink video model id: ``model``, ``prompt`` and free extra fields.

    The provider does not know these models' rules, so only ``prompt``'s documented limit applies; the
    API validates the rest. The two models with their own class are refused here so their rules cannot be
    bypassed.
    """

    prompt: Prompt | None = None

    @field_validator("model")
    @classmethod
    def _not_a_modelled_model(cls, value: str) -> str:
        if value in _REQUEST_CLASSES:
            raise ValueError(f"use {_REQUEST_CLASSES[value].__name__} for model {value!r}")
        return value


_REQUEST_CLASSES: dict[str, type[EvoLinkRequest]] = {
    KLING_O3_REFERENCE_TO_VIDEO: KlingO3ReferenceToVideoRequest,
    KLING_V3_MOTION_CONTROL: KlingV3MotionControlRequest,
}


def parse_request(request: EvoLinkRequest | dict[str, Any]) -> EvoLinkRequest:
    """Validate a create request: a model instance is re-validated, a dict is routed by its ``model`` key.

    :raises pydantic.ValidationError: naming each offending field and rule (also for a missing ``model``).
    """
    if isinstance(request, EvoLinkRequest):
        return type(request).model_validate(request.model_dump(exclude_unset=True))
    if not isinstance(request, dict):
        raise TypeError(f"request must be a dict or an EvoLink request model, not {type(request).__name__}")
    cls = _REQUEST_CLASSES.get(request.get("model"), VideoGenerationRequest)  # type: ignore[arg-type]
    return cls.model_validate(request)


def estimate_credits(request: EvoLinkRequest) -> float | None:
    """Credits a request is expected to reserve, from FACTS.md pricing; ``None`` if the price is unknown.

    O3: price(quality) × max(duration, 3). Motion control: price(quality) × the longest reference video its
    ``character_orientation`` allows (10 s ``image``, 30 s ``video``), an upper bound since the output is as
    long as the reference. Quality defaults to 720p. Unknown models and O3's ``4k`` have no known price.
    """
    prices = PRICING.get(request.model)
    quality = getattr(request, "quality", None) or "720p"
    if prices is None or quality not in prices:
        return None
    if isinstance(request, KlingO3ReferenceToVideoRequest):
        seconds = max(request.effective_duration, O3_MIN_BILLED_SECONDS)
    elif isinstance(request, KlingV3MotionControlRequest):
        seconds = MOTION_CONTROL_MAX_SECONDS[request.model_params.character_orientation]
    else:  # pragma: no cover - PRICING only lists modelled models
        return None
    return math.ceil(prices[quality] * seconds * 10_000) / 10_000


# ------------------------------------------------------------------------------------------ responses
class _Response(BaseModel):
    """Response-side base: unknown fields are ignored, optional ones may be missing."""

    model_config = ConfigDict(extra="ignore")


class TaskStatus(StrEnum):
    """Status of an EvoLink task. ``cancelled`` is not in the OpenAPI enum but EvoLink's client knows it."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def terminal_states(cls) -> frozenset[TaskStatus]:
        return frozenset({cls.COMPLETED, cls.FAILED, cls.CANCELLED})

    @property
    def is_terminal(self) -> bool:
        return self in self.terminal_states()


class TaskInfo(_Response):
    """``task_info``: whether the task can be cancelled, estimated time and output length (seconds)."""

    can_cancel: bool | None = None
    estimated_time: int | None = None
    video_duration: int | None = None


class Usage(_Response):
    """``usage`` of a create response: ``billing_rule`` and ``credits_reserved`` (credits)."""

    billing_rule: str | None = None
    credits_reserved: float | None = None
    user_group: str | None = None


class TaskError(_Response):
    """``error`` of a failed task: a string business ``code`` (FACTS.md lists them) and a message."""

    code: str | None = None
    message: str | None = None
    type: str | None = None


def _clamp_progress(value: Any) -> Any:
    # Progress is cosmetic: an out-of-range value must not fail a whole wait.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(int(value), 0), 100)
    return value


Progress = Annotated[int, BeforeValidator(_clamp_progress)]


class VideoGenerationTask(_Response):
    """Answer of ``POST /v1/videos/generations`` (``VideoGenerationResponse`` in the model OpenAPI files)."""

    id: str = Field(min_length=1)
    created: int | None = None
    model: str | None = None
    object: str | None = None
    progress: Progress = 0
    status: TaskStatus = TaskStatus.PENDING
    task_info: TaskInfo | None = None
    type: str | None = None
    usage: Usage | None = None


class TaskDetail(_Response):
    """Answer of ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``, ``TaskDetailResponse``).

    ``results`` are result URLs valid 24 h (signed: treat as secrets). A ``completed`` task must carry at
    least one result; a ``failed`` one carries ``error``.
    """

    id: str = Field(min_length=1)
    status: TaskStatus
    created: int | None = None
    model: str | None = None
    object: str | None = None
    progress: Progress = 0
    results: list[str] = Field(default_factory=list)
    error: TaskError | None = None
    task_info: TaskInfo | None = None
    type: str | None = None

    @field_validator("results", mode="before")
    @classmethod
    def _null_results(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _completed_has_results(self) -> Self:
        if self.status is TaskStatus.COMPLETED and not self.results:
            raise ValueError("a completed task must have at least one result URL")
        return self


class CreditBalance(_Response):
    """One balance of ``GET /v1/credits`` (credits)."""

    remaining_credits: float | None = None
    used_credits: float | None = None
    unlimited_credits: bool | None = None


class Credits(_Response):
    """``GET /v1/credits`` ``data``: ``user`` is the account, ``token`` this API key (FACTS.md)."""

    user: CreditBalance = Field(default_factory=CreditBalance)
    token: CreditBalance | None = None

    @property
    def remaining(self) -> float | None:
        """Credits this key can still spend: the key's own limit if it has one, else the account's."""
        if self.token is not None and not self.token.unlimited_credits and self.token.remaining_credits is not None:
            if self.user.remaining_credits is None:
                return self.token.remaining_credits
            return min(self.token.remaining_credits, self.user.remaining_credits)
        return self.user.remaining_credits


class CreditsResponse(_Response):
    """The ``GET /v1/credits`` envelope; ``success: false`` is an error even with HTTP 200."""

    success: bool
    data: Credits | None = None


class ApiErrorDetail(_Response):
    code: str | None = None
    message: str | None = None
    type: str | None = None
    param: str | None = None


class ApiErrorBody(_Response):
    """The documented error envelope ``{"error": {"code", "message", "type", "param"?}}``."""

    error: ApiErrorDetail
