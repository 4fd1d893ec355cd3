"""
Poster frames: the first keyframe of a stored video as a small JPEG, made once and cached.

PyAV is imported only here, when a poster is first needed. The cache is a folder the plugin owns on the API
server (``[evolink] gallery_cache_folder``, default ``$AIRFLOW_HOME/evolink-gallery``), keyed by the file's URI,
size and checksum (from the Asset event), so a replaced object gets a new poster. Several API servers
each keep their own cache: it is only an optimisation.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_evolink.plugins.streaming import CHUNK_BYTES

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins.catalog import StoredFile

#: Posters are at most this wide (pixels); the height follows the video's aspect ratio.
POSTER_WIDTH = 480


class PosterUnavailable(Exception):
    """No poster can be made: PyAV is not installed, or the file has no decodable video frame."""


def cache_folder() -> Path:
    """The folder posters are cached in (created on first use)."""
    from airflow.configuration import AIRFLOW_HOME, conf

    folder = Path(conf.get("evolink", "gallery_cache_folder", fallback="") or Path(AIRFLOW_HOME) / "evolink-gallery")
    return folder / "posters"


def poster(stored: StoredFile, path: ObjectStoragePath) -> Path:
    """The cached JPEG poster of ``stored`` (read from ``path``), made now if it is not cached yet.

    :raises PosterUnavailable: see the class.
    """
    key = hashlib.sha256(f"{stored.uri}\0{stored.size}\0{stored.checksum}".encode()).hexdigest()
    cached = cache_folder() / f"{key}.jpg"
    if cached.is_file():
        return cached
    jpeg = first_keyframe_jpeg(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a concurrent request never serves half a JPEG.
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".part", delete=False) as part:
        part.write(jpeg)
    os.replace(part.name, cached)
    return cached


def first_keyframe_jpeg(path: ObjectStoragePath) -> bytes:
    """The first keyframe of the video at ``path``, scaled to :data:`POSTER_WIDTH`, as JPEG bytes.

    Reads only what the demuxer needs (the container index and the first keyframe), through the store's
    file object.

    :raises PosterUnavailable: PyAV is missing or no video frame could be decoded.
    """
    try:
        import av
    except ImportError:
        raise PosterUnavailable("posters need PyAV: pip install 'airflow-provider-evolink[gallery]'") from None
    try:
        # Small reads: object stores would otherwise fetch a large block ahead (s3fs: 50 MiB) for a few KiB.
        with path.fs.open(path.path, "rb", block_size=CHUNK_BYTES) as source, av.open(source) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            frame = next(container.decode(stream))
            width = min(POSTER_WIDTH, frame.width)
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
            encoder.time_base = stream.time_base or Fraction(1, 25)
            packets = encoder.encode(frame.reformat(width=width, height=height, format="yuvj420p"))
            packets += encoder.encode(None)
    except (av.FFmpegError, IndexError, StopIteration, ValueError) as error:
        raise PosterUnavailable(f"no video frame could be decoded: {error}") from None
    if not packets:
        raise PosterUnavailable("the JPEG encoder produced no image")
    return bytes(packets[0])
