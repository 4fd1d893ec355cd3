"""
Pydantic v2 models of the EvoLink video API contract: requests per model, task statuses, credits; the answer
models (task detail, credits, errors, uploaded files) live in :mod:`airflow_provider_evolink.response_models`
and are importable from here too.

Sources: ``kling-o3-reference-to-video.openapi.yaml``, ``kling-v3-motion-control.openapi.yaml`` and
``get-task-detail.openapi.yaml`` in ``airflow_provider_evolink/emulator/openapi/``, and ``docs/evolink-api.md``.
Where the documents disagree the models accept the union (``docs/evolink-api.md``, "Where the
documents disagree"). Request models keep unknown fields and send them (the API evolves); response
models ignore what they do not know and tolerate missing optional fields.

Build a request once, validate it here, and serialise it with :meth:`EvoLinkRequest.to_api_json`:
nothing else assembles EvoLink JSON. Every validation error names the field (its ``loc``, and the
message itself for cross-field rules) and the rule that was broken.
"""

# No `from __future__ import annotations`: pydantic would then evaluate every field's annotation from
# its string when each class is created: a fifth of this module's import time, which DAG files pay.
import ipaddress
import math
import os
import socket
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, NoReturn, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    from airflow_provider_evolink.response_models import (
        ApiErrorBody,
        ApiErrorDetail,
        CreditBalance,
        Credits,
        CreditsResponse,
        TaskDetail,
        TaskError,
        TaskInfo,
        UploadedFile,
        UploadResponse,
        Usage,
        VideoGenerationTask,
    )

__all__ = [
    "KLING_O3_REFERENCE_TO_VIDEO",
    "KLING_V3_MOTION_CONTROL",
    "PRICING",
    "ApiErrorBody",
    "ApiErrorDetail",
    "CreditBalance",
    "Credits",
    "CreditsResponse",
    "EvoLinkRequest",
    "KlingO3ReferenceToVideoRequest",
    "KlingV3MotionControlRequest",
    "MediaField",
    "TaskDetail",
    "TaskError",
    "TaskInfo",
    "TaskStatus",
    "UploadResponse",
    "UploadedFile",
    "Usage",
    "VideoGenerationRequest",
    "VideoGenerationTask",
    "credit_usage",
    "estimate_credits",
    "has_unresolved_inputs",
    "input_kind",
    "media_fields",
    "parse_request",
]


def __getattr__(name: str) -> Any:
    """``models.TaskDetail`` and the other answer models (``response_models.__all__``), imported from
    :mod:`.response_models` when first asked for, so that parsing a DAG file does not build them.

    :raises AttributeError: ``name`` is neither defined here nor an answer model.
    """
    if name[:1].isupper():  # class names only: a probe for ``__wrapped__`` or the like imports nothing
        from airflow_provider_evolink import response_models

        if name in response_models.__all__:
            return getattr(response_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


KLING_O3_REFERENCE_TO_VIDEO = "kling-o3-reference-to-video"
KLING_V3_MOTION_CONTROL = "kling-v3-motion-control"

MAX_PROMPT_CHARS = 2500
MAX_CALLBACK_URL_CHARS = 2048
#: O3 output length in seconds: 3–15 without a reference video, 3–10 with one; 5 when not given.
O3_MIN_SECONDS, O3_MAX_SECONDS, O3_MAX_SECONDS_WITH_VIDEO, O3_DEFAULT_SECONDS = 3, 15, 10, 5
#: O3 with a reference video: reference images + elements together.
O3_MAX_REFERENCES_WITH_VIDEO = 4
#: O3 ``model_params.multi_prompt``: at most this many shots.
O3_MAX_SHOTS = 6

#: Credits per second of output by model and quality (``docs/evolink-api.md``, "Pricing").
PRICING: dict[str, dict[str, float]] = {
    KLING_O3_REFERENCE_TO_VIDEO: {"720p": 8.1, "1080p": 10.8054},
    KLING_V3_MOTION_CONTROL: {"720p": 8.1648, "1080p": 10.88368},
}
#: O3 bills at least this many seconds (``docs/evolink-api.md``).
O3_MIN_BILLED_SECONDS = 3
#: Motion control output is as long as its reference video; the longest reference each orientation allows
#: (``docs/evolink-api.md``, "Where the documents disagree"): ``image`` up to 10 s, ``video`` up to 30 s.
MOTION_CONTROL_MAX_SECONDS = {"image": 10, "video": 30}


# --------------------------------------------------------------------------------------------- helpers
def _fail(title: str, loc: tuple[str | int, ...], rule: str, message: str, value: Any) -> NoReturn:
    """Raise a :class:`ValidationError` located at ``loc`` (a cross-field rule still points at its field).

    ``rule`` becomes the error ``type`` (machine-readable), ``message`` names the field and the rule.
    """
    # Braces would be read as format placeholders by PydanticCustomError.
    safe = message.replace("{", "(").replace("}", ")")
    raise ValidationError.from_exception_data(
        title, [InitErrorDetails(type=PydanticCustomError(rule, safe), loc=loc, input=value)]
    )


def _http_url(value: str) -> str:
    """An absolute ``http(s)`` URL (``format: uri`` in the OpenAPI files). Reachability is the server's job."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


#: Kinds of media input reference (see :func:`input_kind`).
InputKind = Literal["url", "object", "local"]


def input_kind(value: str) -> InputKind:
    """What a media input reference names: ``url`` (a public ``http(s)`` URL, sent as is), ``object`` (an
    object-storage URI that ``ObjectStoragePath`` opens: ``s3://[conn_id@]bucket/key``, ``gs://…``, ``abfs://…``)
    or ``local`` (a ``file://`` URI or an absolute path on the worker).

    :raises ValueError: a relative path, an unknown scheme or an ``http(s)`` URL without a host.
    """
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        _http_url(value)
        return "url"
    if scheme == "file" or (not scheme and value.startswith("/")):
        if not (parts.path if scheme else value).startswith("/"):
            raise ValueError("a file:// URI must name an absolute path (file:///folder/name.mp4)")
        return "local"
    if not scheme:
        raise ValueError(
            "must be an http(s) URL, an object-storage URI (s3://, gs://, abfs://…) or an absolute local path "
            "(a relative path is ambiguous on a worker)"
        )
    # Imported here: fsspec costs a tenth of a second, which DAG files that only use public URLs never pay.
    import fsspec

    if scheme not in fsspec.available_protocols() or not parts.netloc:
        raise ValueError(
            f"unknown scheme {scheme!r}: use an http(s) URL, an object-storage URI that ObjectStoragePath opens "
            "(s3://[conn_id@]bucket/key, gs://…, abfs://…), a file:// URI or an absolute local path"
        )
    return "object"


def _as_reference(value: Any) -> Any:
    """An ``ObjectStoragePath`` becomes its URI (``str()`` keeps its ``conn_id``), a ``pathlib`` path its string;
    anything else is left for the string check."""
    if hasattr(value, "protocol") and hasattr(value, "storage_options"):  # a UPath: ObjectStoragePath and kin
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _media_reference(value: str) -> str:
    input_kind(value)
    return value


#: What a media field takes: ``video``, ``image``, or ``media`` (any of image, video, audio; generic fields).
MediaKind = Literal["video", "image", "media"]
#: A media input field: a public http(s) URL, an object-storage URI / ``ObjectStoragePath``, or a local file.
MediaUrl = Annotated[str, BeforeValidator(_as_reference), AfterValidator(_media_reference)]


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, also in the legacy forms resolvers accept (``127.1``, ``0x7f000001``)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _callback_url(value: str) -> str:
    """``callback_url`` rules: HTTPS only, ≤ 2048 characters, no private/loopback IP literal host."""
    if len(value) > MAX_CALLBACK_URL_CHARS:
        raise ValueError(f"callback_url must be at most {MAX_CALLBACK_URL_CHARS} characters (got {len(value)})")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("callback_url must be an https:// URL with a host (EvoLink only calls back over HTTPS)")
    host = parts.hostname.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise ValueError("callback_url must not point at localhost (EvoLink refuses internal addresses)")
    address = _ip_literal(host)
    if address is not None and not address.is_global:
        raise ValueError(
            f"callback_url must not point at a private, loopback or reserved IP address ({address}): "
            "EvoLink refuses internal addresses"
        )
    return value


def _element_id(value: Any) -> Any:
    # The O3 pages show ``element_id`` as an integer (a "long"), the OpenAPI files as a string: accept both,
    # send a string. ``bool`` is an ``int`` subclass but never an ID.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


CallbackUrl = Annotated[str, AfterValidator(_callback_url)]
Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
ElementId = Annotated[str, BeforeValidator(_element_id), Field(min_length=1)]


class _Model(BaseModel):
    """Request-side base: unknown fields are kept and sent, values are validated on assignment too."""

    # defer_build: DAG files import this module; schemas are built on first use, not at import time.
    model_config = ConfigDict(extra="allow", validate_assignment=True, populate_by_name=True, defer_build=True)


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


class EvoLinkRequest(_Model):
    """Common base of every create request (``POST /v1/videos/generations``).

    :ivar model: the EvoLink model id.
    :ivar callback_url: optional HTTPS URL EvoLink calls on completion (≤ 2048 chars, public host).
    """

    model: str = Field(min_length=1)
    callback_url: CallbackUrl | None = None

    #: Where the documented media inputs of this model sit in its JSON (``"*"``: every list item), with their kind.
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = ()

    def to_api_json(self) -> dict[str, Any]:
        """The JSON body to send: every field the user gave (extras included), ``None`` values dropped."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    @model_validator(mode="after")
    def _extra_media_inputs(self) -> Self:
        # Fields the provider does not model follow the generic rule: a string ending in ``_url`` or a list of
        # strings ending in ``_urls`` is a media input, with the same reference forms as a documented one.
        extra = self.__pydantic_extra__ or {}
        for name, value in extra.items():
            if value is None or not name.endswith(("_url", "_urls")):
                continue
            if name.endswith("_url"):
                extra[name] = _extra_reference(type(self).__name__, (name,), value)
            elif not isinstance(value, list):
                _fail(type(self).__name__, (name,), "media_urls", f"{name} must be a list of media URLs", value)
            else:
                extra[name] = [
                    _extra_reference(type(self).__name__, (name, index), item) for index, item in enumerate(value)
                ]
        return self


def _extra_reference(title: str, loc: tuple[str | int, ...], value: Any) -> str:
    """An extra media field's value checked like :data:`MediaUrl`, the error located at ``loc``."""
    field = _field_name(loc)
    value = _as_reference(value)
    if not isinstance(value, str):
        _fail(title, loc, "media_url", f"{field} must be a string (a URL, URI or absolute path)", type(value).__name__)
    try:
        input_kind(value)
    except ValueError as error:
        _fail(title, loc, "media_url", f"{field}: {error}", value)
    return value


def _field_name(loc: tuple[str | int, ...]) -> str:
    """``("elements", 0, "frontal_image_url")`` → ``elements[0].frontal_image_url``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


class MediaField(NamedTuple):  # a NamedTuple: a fifth of the cost of a dataclass to define, paid by DAG parsing
    """One media input of a request: where it is (``loc`` in the JSON), what it names, and its kind.

    ``kind`` is ``video`` or ``image`` for the documented fields of the modelled models, ``media`` for a field
    found by the generic ``*_url`` / ``*_urls`` rule (any image, video or audio).
    """

    loc: tuple[str | int, ...]
    value: str
    kind: "MediaKind"

    @property
    def name(self) -> str:
        """The field as a user writes it, e.g. ``video_urls[0]``."""
        return _field_name(self.loc)


def media_fields(request: "EvoLinkRequest") -> list[MediaField]:
    """Every media input of a validated request: the model's documented media fields, then any other top-level
    string field ending in ``_url`` (``callback_url`` excepted) or list of strings ending in ``_urls``."""
    body = request.to_api_json()
    found: list[MediaField] = []
    for pattern, kind in request.media_inputs:
        found += [MediaField(loc, value, kind) for loc, value in _walk(body, pattern, ())]
    documented = {pattern[0] for pattern, _ in request.media_inputs}
    for name, value in body.items():
        if name in documented or name == "callback_url":
            continue
        if name.endswith("_url") and isinstance(value, str):
            found.append(MediaField((name,), value, "media"))
        elif name.endswith("_urls") and isinstance(value, list):
            found += [MediaField((name, i), item, "media") for i, item in enumerate(value) if isinstance(item, str)]
    return found


def has_unresolved_inputs(request: "EvoLinkRequest") -> bool:
    """Whether any media input of ``request`` is an object-storage URI or a local file (not yet a link)."""
    return any(input_kind(item.value) != "url" for item in media_fields(request))


_Loc = tuple[str | int, ...]


def _walk(node: Any, pattern: tuple[str, ...], loc: _Loc) -> Iterator[tuple[_Loc, str]]:
    if not pattern:
        if isinstance(node, str):
            yield loc, node
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*" and isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, rest, (*loc, index))
    elif isinstance(node, dict) and node.get(head) is not None:
        yield from _walk(node[head], rest, (*loc, head))


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
                _fail(
                    title,
                    ("shot_type",),
                    "multi_shot_needs_shot_type",
                    "model_params.shot_type is required when model_params.multi_shot is true (use 'customize')",
                    None,
                )
            if not self.multi_prompt:
                _fail(
                    title,
                    ("multi_prompt",),
                    "multi_shot_needs_multi_prompt",
                    "model_params.multi_prompt is required when model_params.multi_shot is true "
                    f"(1-{O3_MAX_SHOTS} shots)",
                    None,
                )
        elif self.multi_prompt:
            _fail(
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

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        title = type(self).__name__
        params = self.model_params
        multi_prompt = params.multi_prompt if params and params.multi_shot else None
        if multi_prompt:
            if self.prompt is not None:
                _fail(
                    title,
                    ("prompt",),
                    "prompt_with_multi_prompt",
                    "prompt must be omitted when model_params.multi_prompt is given (they are mutually exclusive)",
                    self.prompt,
                )
            total = sum(shot.seconds for shot in multi_prompt)
            if total != self.effective_duration:
                _fail(
                    title,
                    ("model_params", "multi_prompt"),
                    "multi_prompt_duration_sum",
                    "model_params.multi_prompt shot durations must sum to duration "
                    f"({self.effective_duration} s), got {total} s",
                    [shot.duration for shot in multi_prompt],
                )
        elif self.prompt is None:
            _fail(
                title,
                ("prompt",),
                "prompt_required",
                "prompt is required unless model_params.multi_shot is true with model_params.multi_prompt",
                None,
            )

        if self.has_reference_video:
            if self.duration is not None and self.duration > O3_MAX_SECONDS_WITH_VIDEO:
                _fail(
                    title,
                    ("duration",),
                    "duration_with_video",
                    f"duration must be {O3_MIN_SECONDS}-{O3_MAX_SECONDS_WITH_VIDEO} seconds with a reference "
                    f"video (got {self.duration}; up to {O3_MAX_SECONDS} only without one)",
                    self.duration,
                )
            if self.quality == "4k":
                _fail(
                    title,
                    ("quality",),
                    "quality_with_video",
                    "quality must be '720p' or '1080p' with a reference video ('4k' only without one)",
                    self.quality,
                )
            if self.generate_audio:
                _fail(
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
                _fail(
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
            _fail(
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


def request_class(model: object) -> type[EvoLinkRequest]:
    """The request class for a model id: its own class if modelled, else :class:`VideoGenerationRequest`."""
    return _REQUEST_CLASSES.get(model, VideoGenerationRequest) if isinstance(model, str) else VideoGenerationRequest


def parse_request(request: EvoLinkRequest | Mapping[str, Any]) -> EvoLinkRequest:
    """Validate a create request: a model instance is re-validated, a mapping is routed by its ``model`` key.

    :raises pydantic.ValidationError: naming each offending field and rule (also for a missing ``model``).
    :raises TypeError: ``request`` is neither a mapping nor a request model.
    """
    if isinstance(request, EvoLinkRequest):
        # Re-validate: a model may have been built with model_construct() or mutated into an invalid state.
        return type(request).model_validate(request.model_dump(exclude_unset=True))
    if not isinstance(request, Mapping):
        raise TypeError(f"request must be a dict or an EvoLink request model, not {type(request).__name__}")
    return request_class(request.get("model")).model_validate(dict(request))


def estimate_credits(request: EvoLinkRequest | Mapping[str, Any]) -> float | None:
    """Credits a request is expected to reserve, from EvoLink's published per-second prices; ``None`` if the
    price is unknown.

    O3: price(quality) × max(duration, 3 s) (duration defaults to 5 s). Motion control: price(quality) ×
    the longest reference video its ``character_orientation`` allows (10 s ``image``, 30 s ``video``), an
    upper bound since the output is as long as the reference. Quality defaults to 720p. ``None`` (no known
    price, so a budget check must fail closed) for unknown models, O3's ``4k`` tier and O3 with
    ``generate_audio`` (priced differently, and not in the table). Rounded up to 4 decimals.

    :param request: a request model or a dict (validated first, like :func:`parse_request`).
    """
    if not isinstance(request, EvoLinkRequest):
        request = parse_request(request)
    prices = PRICING.get(request.model)
    quality = getattr(request, "quality", None) or "720p"
    if prices is None or quality not in prices:
        return None
    if isinstance(request, KlingO3ReferenceToVideoRequest):
        if request.generate_audio:
            return None
        seconds = max(request.effective_duration, O3_MIN_BILLED_SECONDS)
    elif isinstance(request, KlingV3MotionControlRequest):
        seconds = MOTION_CONTROL_MAX_SECONDS[request.model_params.character_orientation]
    else:  # pragma: no cover - PRICING only lists modelled models
        return None
    # round() first: 10.8054 * 5 * 10_000 is 540270.0000000001 in binary floating point, not a reason to add 0.0001.
    return math.ceil(round(prices[quality] * seconds * 10_000, 6)) / 10_000


# ------------------------------------------------------------------------------------------- statuses
class TaskStatus(StrEnum):
    """Status of an EvoLink task. ``cancelled`` is not in the OpenAPI enum but EvoLink's client knows it."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether a task in this state will not change any more (``completed``, ``failed``, ``cancelled``)."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


# --------------------------------------------------------------------------------------------- credits
def credit_usage(
    reserved: "Usage | None", status: TaskStatus | None = None, reported: "Usage | None" = None
) -> dict[str, Any]:
    """The credits of one EvoLink task as plain JSON, for XCom and Asset extras (no secrets)::

        {"billing_rule": str | None,        # e.g. "per_second"
         "credits_reserved": float | None,  # reserved by the create answer (VideoUsage in the model OpenAPI files)
         "credits_used": float | None,      # only when a task detail reports it
         "credits_refunded": float | None,  # reported, else all of credits_reserved once the task failed
         "refunded": bool,                  # True once the task failed: EvoLink refunds failed tasks
         "credits": float | None}           # what the task costs: credits_used if reported, else
                                            # credits_reserved - credits_refunded (None if nothing is known)

    A ``cancelled`` task is not counted as refunded (EvoLink documents refunds for failed tasks only), so its
    ``credits`` stays the reservation: an upper bound. Source: ``docs/evolink-api.md`` ("Endpoints": the create
    answer's ``usage.credits_reserved`` is the authority on the price; "Task errors": failed tasks are refunded).

    :param reserved: ``usage`` of the ``POST /v1/videos/generations`` answer (the authority on the reservation).
    :param status: the task's status when known (``GET /v1/tasks/{task_id}``).
    :param reported: ``usage`` of a task detail, when the answer carries one.
    """
    refunded = status is TaskStatus.FAILED
    credits_reserved = next(
        (usage.credits_reserved for usage in (reserved, reported) if usage and usage.credits_reserved is not None),
        None,
    )
    credits_used = reported.credits_used if reported else None
    credits_refunded = reported.credits_refunded if reported else None
    if credits_refunded is None and refunded:
        credits_refunded = credits_reserved
    if credits_used is not None:
        credits: float | None = credits_used
    elif credits_reserved is None:
        credits = 0.0 if refunded else None
    else:
        credits = round(max(credits_reserved - (credits_refunded or 0.0), 0.0), 6)
    return {
        "billing_rule": next(
            (usage.billing_rule for usage in (reported, reserved) if usage and usage.billing_rule), None
        ),
        "credits_reserved": credits_reserved,
        "credits_used": credits_used,
        "credits_refunded": credits_refunded,
        "refunded": refunded,
        "credits": credits,
    }
