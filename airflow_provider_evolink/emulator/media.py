"""Bytes the emulator serves: result videos, sample inputs and the streamed benchmark blob, plus HTTP ranges.

Videos are real H.264 MP4s (yuv420p) made with PyAV: a gradient sliding across frames of EvoLink's size for the
requested ``quality`` and ``aspect_ratio`` (the short side is the quality's lines: 480, 720, 1080 or 2160 for 4k; the
long side follows the ratio, so 720p 16:9 is 1280×720 and 1080p 9:16 is 1080×1920), kept cheap with 4 frames a second,
a keyframe every second and a high CRF: a 5 s 720p result encodes in about 0.1 s, 4k in about 2 s. ``small`` frames (the
emulator's ``small_videos``) are a quarter of that on each side (320×180 for 720p 16:9), for tests that do not look at
the resolution. With a sound track (AAC, a quiet tone) when the request asked for sound. Results are cached by shape
(duration, aspect ratio, quality, sound, small); samples once.
The blob (``result_size_bytes``) is a deterministic pseudo-random 1 MiB block repeated, streamed chunk by chunk
and never held whole in memory.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import math
import random
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

#: Frames per second of a result, and its keyframe interval (one a second, so seeking stays cheap).
RESULT_FPS = 4
#: ``aspect_ratio`` → (width, height) ratio of a result frame; any other value (``adaptive``) renders as 16:9.
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9)}
#: Lines of a result's short side per ``quality`` (EvoLink's output sizes); any other value renders as 720p.
QUALITY_LINES = {"360p": 360, "480p": 480, "512p": 512, "720p": 720, "768p": 768, "1080p": 1080, "2k": 1440, "4k": 2160}
#: Each side of a ``small`` result is this fraction of the full one.
SMALL_SCALE = 1 / 4
#: Sample rate of a result's sound track (a quiet 440 Hz tone, AAC mono), when the request asks for sound.
AUDIO_RATE = 8_000
DEFAULT_ASPECT_RATIO = "16:9"
_CHUNK = 64 * 1024
_BLOB_BLOCK = 1024 * 1024
_BLOB_SEED = 20260101


class Content(Protocol):
    """Something servable: its ``size`` in bytes, ``media_type``, byte ranges as chunks, and its SHA-256."""

    @property
    def size(self) -> int: ...

    @property
    def media_type(self) -> str: ...

    def chunks(self, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` in chunks."""
        ...

    def sha256(self) -> str:
        """Hex SHA-256 of the whole content."""
        ...


@dataclass(frozen=True)
class BytesContent:
    """Content held in memory (videos, images), served in 64 KiB chunks."""

    data: bytes
    media_type: str

    @property
    def size(self) -> int:
        return len(self.data)

    async def chunks(self, start: int, end: int) -> AsyncIterator[bytes]:
        view = memoryview(self.data)
        for offset in range(start, end, _CHUNK):
            yield bytes(view[offset : min(offset + _CHUNK, end)])

    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class FileContent:
    """Content of a file on disk (uploaded files), read 1 MiB at a time off the event loop."""

    path: Path
    size: int
    media_type: str

    async def chunks(self, start: int, end: int) -> AsyncIterator[bytes]:
        with self.path.open("rb") as file:
            file.seek(start)
            remaining = end - start
            while remaining > 0 and (data := await asyncio.to_thread(file.read, min(_BLOB_BLOCK, remaining))):
                remaining -= len(data)
                yield data

    def sha256(self) -> str:
        with self.path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class BlobContent:
    """``size`` bytes of a repeated pseudo-random 1 MiB block, generated as it streams (download benchmarks)."""

    size: int
    media_type: str = "application/octet-stream"

    async def chunks(self, start: int, end: int) -> AsyncIterator[bytes]:
        block = _blob_block()
        offset = start
        while offset < end:
            inside = offset % _BLOB_BLOCK
            length = min(_BLOB_BLOCK - inside, end - offset)
            yield block if length == _BLOB_BLOCK else block[inside : inside + length]
            offset += length

    def sha256(self) -> str:
        return _blob_sha256(self.size)


@functools.cache
def _blob_block() -> bytes:
    return random.Random(_BLOB_SEED).randbytes(_BLOB_BLOCK)


@functools.lru_cache(maxsize=16)
def _blob_sha256(size: int) -> str:
    digest = hashlib.sha256()
    whole, rest = divmod(size, _BLOB_BLOCK)
    for _ in range(whole):
        digest.update(_blob_block())
    digest.update(_blob_block()[:rest])
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def result_video(
    duration: int, aspect_ratio: str, quality: str = "720p", *, audio: bool = False, small: bool = False
) -> BytesContent:
    """A result MP4 of ``duration`` seconds at :func:`frame_size`, with an AAC sound track of the same length when
    ``audio``."""
    width, height = frame_size(aspect_ratio, quality, small=small)
    return BytesContent(_encode_mp4(width, height, RESULT_FPS, duration, audio=audio), "video/mp4")


def frame_size(aspect_ratio: str, quality: str, *, small: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of a result: the short side is ``quality``'s lines (720 if unknown), the long side
    follows ``aspect_ratio`` (16:9 if unknown or ``adaptive``), both even as yuv420p needs; a quarter of each side
    when ``small``. E.g. ``("16:9", "720p")`` → (1280, 720), ``("9:16", "1080p")`` → (1080, 1920)."""
    ratio_width, ratio_height = ASPECT_RATIOS.get(aspect_ratio, ASPECT_RATIOS[DEFAULT_ASPECT_RATIO])
    short = QUALITY_LINES.get(quality, QUALITY_LINES["720p"]) * (SMALL_SCALE if small else 1)
    scale = short / min(ratio_width, ratio_height)
    return 2 * round(ratio_width * scale / 2), 2 * round(ratio_height * scale / 2)


@functools.cache
def reference_video() -> BytesContent:
    """``/samples/reference.mp4``: 5 s, 1280×720, 24 fps, which meets O3's reference-video rules."""
    return BytesContent(_encode_mp4(1280, 720, 24, 5), "video/mp4")


@functools.cache
def character_image() -> BytesContent:
    """``/samples/character.jpg``: a 480×640 JPEG, which meets motion control's image rules (≥ 300 px)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt, codec.time_base = 480, 640, "yuvj420p", Fraction(1, 25)
    packets = [*codec.encode(_gradient_frame(480, 640, "yuvj420p", shift=0)), *codec.encode(None)]
    return BytesContent(b"".join(bytes(packet) for packet in packets), "image/jpeg")


def _encode_mp4(width: int, height: int, fps: int, seconds: int, *, audio: bool = False) -> bytes:
    buffer = io.BytesIO()
    frames = fps * seconds
    with av.open(buffer, "w", format="mp4") as container:
        # A keyframe every second and a high CRF (a gradient needs few bits): cheap to encode, to seek and to store.
        options = {"preset": "ultrafast", "crf": "40", "g": str(fps)}
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Every stream must exist before the first packet is muxed (the header is written then).
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
        for index in range(frames):
            frame = _gradient_frame(width, height, "yuv420p", shift=index * 220 // frames)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            _mux_tone(container, sound, seconds)
    return buffer.getvalue()


def _mux_tone(container: av.container.OutputContainer, stream: av.AudioStream, seconds: int) -> None:
    tone = _tone_second() * seconds
    size = stream.codec_context.frame_size or 1024
    for start in range(0, len(tone), size):
        chunk = tone[start : start + size]
        frame = av.AudioFrame(format="fltp", layout="mono", samples=len(chunk))
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


@functools.cache
def _tone_second() -> array[float]:
    # 440 Hz fits a whole number of periods in a second, so seconds repeat seamlessly.
    return array("f", (0.1 * math.sin(2 * math.pi * 440 * n / AUDIO_RATE) for n in range(AUDIO_RATE)))


def _gradient_frame(width: int, height: int, pix_fmt: str, *, shift: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, pix_fmt)
    luma = frame.planes[0]
    row = bytes(16 + (x * 220 // width + shift) % 220 for x in range(luma.line_size))
    luma.update(row * luma.height)
    for plane, value in zip(frame.planes[1:], (168, 96), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame
