"""Fetching and probing a task's media inputs when it starts, as EvoLink does (setting ``fetch_inputs``).

Every media input of a create request is downloaded without credentials (EvoLink only reaches public links) and
probed with PyAV against what the documents state for its field
(``airflow_provider_evolink/api_reference/evolink-api.md``, "Media inputs"; the model pages under
``airflow_provider_evolink/api_reference/openapi/``). The first input that fails decides the task's ``error.code``:

==========================  ===========================================================================
``resource_not_found``      the link answers 403, 404 or any other non-2xx status, or cannot be reached
                            (refused connection, unknown host, timeout)
``image_processing_error``  an image field's file does not decode as an image of an accepted type
``image_dimension_mismatch`` motion control's image is under 300 px a side or outside 1:2.5 to 2.5:1
``invalid_parameters``      a video that does not decode, or breaks its field's container, size, length,
                            resolution or frame-rate rules; an image over 10 MB; any file over 200 MB
==========================  ===========================================================================

Fields: O3 ``video_url``, ``video_urls[*]``, ``video`` (MP4/MOV, ≤ 200 MB, ≥ 3 s, 720–2160 px a side,
24–60 fps), ``image_urls[*]``, ``elements[*].frontal_image_url`` and ``elements[*].reference_image_urls[*]``
(JPEG/PNG/WebP, ≤ 10 MB); motion control ``image_urls[*]`` (JPEG/PNG, ≤ 10 MB, ≥ 300 px, aspect 1:2.5 to 2.5:1)
and ``video_urls[*]`` (3–30 s, ≤ 10 s with ``character_orientation: image``); any other model's ``*_url`` /
``*_urls`` fields (``callback_url`` excepted): anything PyAV decodes. Error messages name the field, never the
link (it may be signed).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import httpx

from .schemas import KLING_O3_REFERENCE_TO_VIDEO, KLING_V3_MOTION_CONTROL

MB = 1024 * 1024
#: The largest input any field takes (O3's reference video); larger downloads are cut off.
MAX_INPUT_BYTES = 200 * MB
MAX_IMAGE_BYTES = 10 * MB
FETCH_TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 20

_IMAGE_FORMATS = {"jpeg_pipe": "JPEG", "png_pipe": "PNG", "webp_pipe": "WebP", "gif": "GIF", "gif_pipe": "GIF"}
_O3_IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WebP"})
_MOTION_IMAGE_FORMATS = frozenset({"JPEG", "PNG"})


class InputProblem(Exception):
    """An input EvoLink could not use: ``code`` is the task's ``error.code``, the message names the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Media:
    """What PyAV saw: container format, size (bytes), and the first video stream's shape (if any)."""

    format_name: str
    size: int
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    frames: bool = False


def media_inputs(body: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(field, url, kind)`` of every media input of a create request; kind ``o3-video``, ``o3-image``,
    ``motion-video``, ``motion-image`` or ``media``."""
    model = body.get("model")
    if model == KLING_O3_REFERENCE_TO_VIDEO:
        yield from _fields(body, ("video_url", "video"), ("video_urls",), "o3-video")
        yield from _fields(body, (), ("image_urls",), "o3-image")
        for index, element in enumerate(body.get("elements") or ()):
            if isinstance(element, dict):
                prefix = f"elements[{index}]."
                for field, url, kind in _fields(element, ("frontal_image_url",), ("reference_image_urls",), "o3-image"):
                    yield prefix + field, url, kind
    elif model == KLING_V3_MOTION_CONTROL:
        yield from _fields(body, (), ("image_urls",), "motion-image")
        yield from _fields(body, (), ("video_urls",), "motion-video")
    else:
        singles = tuple(name for name in body if name.endswith("_url") and name != "callback_url")
        yield from _fields(body, singles, tuple(name for name in body if name.endswith("_urls")), "media")


def _fields(
    body: dict[str, Any], singles: tuple[str, ...], lists: tuple[str, ...], kind: str
) -> Iterator[tuple[str, str, str]]:
    for name in singles:
        if isinstance(body.get(name), str):
            yield name, body[name], kind
    for name in lists:
        items = body.get(name)
        for index, url in enumerate(items if isinstance(items, list) else ()):
            if isinstance(url, str):
                yield f"{name}[{index}]", url, kind


async def check_inputs(body: dict[str, Any], client: httpx.AsyncClient) -> tuple[str, str] | None:
    """Fetch and probe every media input of ``body``: ``None`` if all are usable, else ``(code, message)`` of
    the first that is not."""
    orientation = (body.get("model_params") or {}).get("character_orientation")
    for field, url, kind in media_inputs(body):
        try:
            media = await _fetch_and_probe(client, field, url, kind)
            _check_rules(field, kind, media, orientation)
        except InputProblem as problem:
            return problem.code, str(problem)
    return None


async def _fetch_and_probe(client: httpx.AsyncClient, field: str, url: str, kind: str) -> _Media:
    limit = MAX_IMAGE_BYTES if kind.endswith("image") else MAX_INPUT_BYTES
    with tempfile.TemporaryFile() as file:
        size = await _download(client, field, url, limit, file)
        file.seek(0)
        return await asyncio.to_thread(_probe, file, size, field, kind)


async def _download(client: httpx.AsyncClient, field: str, url: str, limit: int, file: Any) -> int:
    """Stream ``url`` into ``file`` without credentials; its size in bytes. Never names the link in a problem."""
    try:
        async with client.stream("GET", url) as response:
            if not response.is_success:
                raise InputProblem(
                    "resource_not_found",
                    f"{field}: the input could not be fetched (HTTP {response.status_code}); "
                    "media inputs must be publicly reachable",
                )
            return await _save(response, field, limit, file)
    except httpx.HTTPError as error:
        raise InputProblem(
            "resource_not_found", f"{field}: the input could not be fetched ({type(error).__name__})"
        ) from None


async def _save(response: httpx.Response, field: str, limit: int, file: Any) -> int:
    size = 0
    async for chunk in response.aiter_bytes(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise InputProblem("invalid_parameters", f"{field}: the file is larger than {limit // MB} MB")
        file.write(chunk)
    return size


def _probe(file: Any, size: int, field: str, kind: str) -> _Media:
    code = "image_processing_error" if kind.endswith("image") else "invalid_parameters"
    try:
        with av.open(file) as container:
            stream = container.streams.video[0] if container.streams.video else None
            if stream is None:
                frames = any(True for _ in container.decode(audio=0)) if container.streams.audio else False
                return _Media(container.format.name, size, frames=frames)
            frames = any(True for _ in container.decode(video=0))
            seconds = (container.duration or 0) / av.time_base
            fps = float(stream.average_rate or 0)
            return _Media(container.format.name, size, stream.width, stream.height, seconds, fps, frames)
    except (av.FFmpegError, ValueError, IndexError):
        raise InputProblem(code, f"{field}: the file is not a decodable media file") from None


def _check_rules(field: str, kind: str, media: _Media, orientation: object) -> None:
    """The documented rules of ``kind`` (see the module docstring)."""
    if not media.frames:
        raise InputProblem(
            "image_processing_error" if kind.endswith("image") else "invalid_parameters",
            f"{field}: the file has no decodable picture or sound",
        )
    if kind.endswith("image"):
        _check_image(field, kind, media)
    elif kind.endswith("video"):
        _check_video(field, kind, media, orientation)


def _check_image(field: str, kind: str, media: _Media) -> None:
    image_format = _IMAGE_FORMATS.get(media.format_name)
    allowed = _O3_IMAGE_FORMATS if kind == "o3-image" else _MOTION_IMAGE_FORMATS
    if image_format not in allowed:
        raise InputProblem(
            "image_processing_error",
            f"{field}: must be a {'/'.join(sorted(allowed))} image, got {image_format or media.format_name}",
        )
    if kind == "motion-image":
        if min(media.width, media.height) < 300:
            raise InputProblem(
                "image_dimension_mismatch", f"{field}: must be at least 300 px a side, got {media.width}x{media.height}"
            )
        if not 1 / 2.5 <= media.width / media.height <= 2.5:
            raise InputProblem(
                "image_dimension_mismatch",
                f"{field}: aspect ratio must be between 1:2.5 and 2.5:1, got {media.width}x{media.height}",
            )


def _check_video(field: str, kind: str, media: _Media, orientation: object) -> None:
    if media.width == 0 or media.format_name in _IMAGE_FORMATS:
        raise InputProblem("invalid_parameters", f"{field}: must be a video, got {media.format_name}")
    if kind == "o3-video":
        problems = [
            "an MP4 or MOV file" if "mp4" not in media.format_name and "mov" not in media.format_name else "",
            f"at least 3 s long (got {media.seconds:.1f} s)" if round(media.seconds, 1) < 3 else "",
            f"720-2160 px a side (got {media.width}x{media.height})"
            if not 720 <= min(media.width, media.height) <= max(media.width, media.height) <= 2160
            else "",
            f"24-60 fps (got {media.fps:g})" if not 24 <= round(media.fps, 3) <= 60 else "",
        ]
    else:
        longest = 10 if orientation == "image" else 30
        seconds = round(media.seconds, 1)  # containers round their duration: 2.98 s is a 3 s video
        problems = [f"3-{longest} s long (got {media.seconds:.1f} s)" if not 3 <= seconds <= longest else ""]
    if broken := [problem for problem in problems if problem]:
        raise InputProblem("invalid_parameters", f"{field}: the reference video must be " + ", ".join(broken))
