"""Bytes the emulator serves: result videos, sample inputs and the streamed benchmark blob, plus HTTP ranges.

Videos are real H.264 MP4s (yuv420p) made with PyAV: a gradient sliding across small frames (a quarter of EvoLink's
size at each quality) at a low frame rate, so a 15 s 720p result encodes in well under 0.1 s; with a sound track
(AAC, a quiet tone) when the request asked for sound. Results are cached by shape (duration, aspect ratio, quality,
sound); samples once.
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

RESULT_FPS = 8
#: Result frame size (width, height) per ``aspect_ratio`` at 720p (a quarter of EvoLink's 1280×720 for 16:9);
#: even sides, as yuv420p needs.
RESULT_FRAME_SIZES = {
    "16:9": (320, 180),
    "9:16": (180, 320),
    "1:1": (240, 240),
    "4:3": (240, 180),
    "3:4": (180, 240),
    "21:9": (336, 144),
}
#: Frame size of each ``quality`` relative to 720p (EvoLink's 480p / 1080p / 4k outputs scale the same way).
QUALITY_SCALES = {"480p": 2 / 3, "720p": 1.0, "1080p": 1.5, "4k": 3.0}
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
def result_video(duration: int, aspect_ratio: str, quality: str = "720p", *, audio: bool = False) -> BytesContent:
    """A result MP4 of ``duration`` seconds in the frame shape of ``aspect_ratio`` (16:9 if unknown or
    ``adaptive``), its size scaled by ``quality`` (720p if unknown), with an AAC sound track of the same length
    when ``audio``."""
    base = RESULT_FRAME_SIZES.get(aspect_ratio, RESULT_FRAME_SIZES[DEFAULT_ASPECT_RATIO])
    scale = QUALITY_SCALES.get(quality, 1.0)
    width, height = (2 * round(side * scale / 2) for side in base)
    return BytesContent(_encode_mp4(width, height, RESULT_FPS, duration, audio=audio), "video/mp4")


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
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
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
