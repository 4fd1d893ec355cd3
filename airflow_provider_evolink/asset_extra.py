"""
The ``extra`` of the Asset events ``EvoLinkToStorageOperator`` emits: its keys, how it is built, and how a reader
(the "EvoLink videos" gallery, anyone reading the events) gets a value back from events old and new.

The shape::

    {"evolink_task_id": str, "model": str | None, "source": "evolink",
     "prompt": str | None,      # shortened to 200 characters
     "duration": int | None,    # seconds of video (task detail, else the request)
     "quality": str | None,     # the request's quality, e.g. "720p"
     "resolution": str | None,  # the same value under the key's former name, kept for readers of older events
     "usage": dict | None,      # credits (models.credit_usage): credits_reserved, credits_estimated and
                                #   estimate_source (EvoLink's price list, the catalogue, credits_per_second)
     "render_seconds": int | None,  # created → completed as the generate task saw it (when it waited)
     "bytes": int,              # total size of the stored files, in bytes
     "crc32c": str | None,      # the file's checksum; None when the task had several results
     "files": [{"uri": str, "bytes": int, "crc32c": str}, ...]}   # one entry per file, in result order

The checksum's key is the transfer's ``checksum`` algorithm: ``"crc32c"`` (the default) is the base64 of the
CRC32C's four big-endian bytes, as S3 (``ChecksumCRC32C``) and GCS (``crc32c``) show it; ``"sha256"`` is a hex
digest. ``prompt``, ``quality`` and ``usage`` come from the generate task's submission summary
(:func:`airflow_provider_evolink.xcom.find_submission`); the task detail (``GET /v1/tasks/{task_id}``) has neither.
``resolution`` is deprecated: events recorded before the rename carry only it, which :func:`quality_of` reads.

Where the events go: the transfer's Asset ``outlets``; a transfer given none gets :func:`videos_asset`, so every video
it stores has an event the gallery reads.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset
    from pydantic import JsonValue

    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = [
    "EXTRA_SOURCE",
    "QUALITY",
    "TRANSFER_OPERATOR",
    "StoredEntry",
    "asset_extra",
    "quality_of",
    "videos_asset",
]


@functools.cache
def videos_asset() -> Asset:
    """The Asset a transfer without Asset ``outlets`` records its videos on, ``evolink_videos`` at
    ``evolink://videos`` (one Asset shared by every such transfer task; the gallery tells the videos apart by the DAG,
    run and task instance that stored them); also importable as ``VIDEOS_ASSET``.

    Built on first use, not at import: making an Asset normalises its URI through Airflow's providers manager (some
    300 modules), which a DAG file that only imports the provider should not pay."""
    from airflow.sdk import Asset

    return Asset(name="evolink_videos", uri="evolink://videos")


def __getattr__(name: str) -> Any:
    if name == "VIDEOS_ASSET":
        return videos_asset()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: ``extra["source"]``: what marks an event as the transfer's.
EXTRA_SOURCE = "evolink"
#: ``task_instance.operator`` of the transfer's task instances, the only ones whose events are videos.
TRANSFER_OPERATOR = "EvoLinkToStorageOperator"
#: The key of EvoLink's ``quality`` (e.g. ``"720p"``).
QUALITY = "quality"
#: The key ``quality`` had before; still written, and read from older events.
_FORMER_QUALITY = "resolution"
#: One stored file: its URI, size in bytes and checksum.
StoredEntry = tuple[str, int, str]


def asset_extra(
    detail: TaskDetail, submitted: Mapping[str, Any], stored: Sequence[StoredEntry], checksum: str
) -> dict[str, JsonValue]:
    """The ``extra`` of the transfer's Asset events (see the module docstring).

    :param detail: the completed task detail.
    :param submitted: the generate task's submission summary, ``{}`` when none was found.
    :param stored: ``(uri, bytes, checksum)`` of each stored file, in result order.
    :param checksum: the checksum algorithm, the key of each checksum (``crc32c`` or ``sha256``).
    """
    duration = detail.task_info.video_duration if detail.task_info else None
    quality = submitted.get("quality")
    return {
        "evolink_task_id": detail.id,
        "model": detail.model,
        "source": EXTRA_SOURCE,
        "prompt": submitted.get("prompt"),
        "duration": duration if duration is not None else submitted.get("duration"),
        QUALITY: quality,
        _FORMER_QUALITY: quality,
        "usage": submitted.get("usage"),
        "render_seconds": submitted.get("render_seconds"),
        "bytes": sum(size for _, size, _ in stored),
        checksum: stored[0][2] if len(stored) == 1 else None,
        "files": [{"uri": uri, "bytes": size, checksum: value} for uri, size, value in stored],
    }


def quality_of(extra: Mapping[str, Any]) -> Any:
    """The ``quality`` of an event's ``extra``, also from an event recorded before the key was renamed."""
    return extra[QUALITY] if QUALITY in extra else extra.get(_FORMER_QUALITY)
