"""
Which Asset events are EvoLink videos, and the rows of the gallery.

A video is one file of an Asset event that a task instance of ``EvoLinkToStorageOperator`` emitted: the event
must come from a task (``source_*`` set), that task instance's operator must be the transfer (read from the
``task_instance`` table, not from the event), and its ``extra`` must say ``"source": "evolink"``. Events
created through the REST API or by another task never count, so no URI a user can write into an event from
outside the transfer is ever opened. The gallery reads the database through the API server's session; callers
pass the DAG IDs the auth manager lets the user read.

The transfer's ``extra``: :mod:`airflow_provider_evolink.asset_extra` (its keys, and :func:`quality_of` for
events recorded before ``resolution`` was renamed ``quality``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.models.asset import AssetEvent, AssetModel
from airflow.models.taskinstance import TaskInstance
from sqlalchemy import JSON, and_, func, select, type_coerce

from airflow_provider_evolink.asset_extra import EXTRA_SOURCE, TRANSFER_OPERATOR, quality_of

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.orm import Session
    from sqlalchemy.sql import Select

# Read as JSON on every Airflow: 3.1 declares the column as text-backed JSONField, which cannot be indexed.
_EXTRA = type_coerce(AssetEvent.extra, JSON)
_MODEL = _EXTRA["model"].as_string()


@dataclass(frozen=True)
class VideoFilter:
    """What the user narrowed the gallery to; ``None`` means any."""

    dag_id: str | None = None
    model: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    #: Only these Asset events (e.g. those in a review state: ``reviews.select_state``).
    event_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class StoredFile:
    """One file of an EvoLink Asset event: the URI the transfer recorded, its size (bytes) and checksum, as
    ``"<algorithm>:<value>"`` (``"crc32c:…"`` or ``"sha256:…"``; ``None`` if the event has neither)."""

    uri: str
    size: int | None
    checksum: str | None


def _evolink_events(readable_dag_ids: Collection[str]) -> Select:
    """Asset events of transfer task instances in ``readable_dag_ids``, joined to their task instance."""
    source_ti = and_(
        TaskInstance.dag_id == AssetEvent.source_dag_id,
        TaskInstance.run_id == AssetEvent.source_run_id,
        TaskInstance.task_id == AssetEvent.source_task_id,
        TaskInstance.map_index == AssetEvent.source_map_index,
    )
    return (
        select(AssetEvent)
        .join(TaskInstance, source_ti)
        .where(
            TaskInstance.operator == TRANSFER_OPERATOR,
            AssetEvent.source_dag_id.in_(set(readable_dag_ids)),
            _EXTRA["source"].as_string() == EXTRA_SOURCE,
        )
    )


def _filtered(query: Select, wanted: VideoFilter) -> Select:
    conditions = {
        AssetEvent.source_dag_id: wanted.dag_id,
        AssetEvent.source_run_id: wanted.run_id,
        AssetEvent.source_task_id: wanted.task_id,
        AssetEvent.source_map_index: wanted.map_index,
        _MODEL: wanted.model,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if wanted.event_ids is not None:
        query = query.where(AssetEvent.id.in_(wanted.event_ids))
    return query


def event_keys(
    session: Session, readable_dag_ids: Collection[str], wanted: VideoFilter
) -> list[tuple[int, tuple[str, str, str, int]]]:
    """Every matching event's ID with its source task instance ``(dag_id, run_id, task_id, map_index)``."""
    events = _filtered(_evolink_events(readable_dag_ids), wanted).subquery()
    columns = (events.c.id, events.c.source_dag_id, events.c.source_run_id, events.c.source_task_id)
    rows = session.execute(select(*columns, events.c.source_map_index))
    return [(event_id, (dag_id, run_id, task_id, map_index)) for event_id, dag_id, run_id, task_id, map_index in rows]


def list_videos(
    session: Session, readable_dag_ids: Collection[str], wanted: VideoFilter, *, offset: int, limit: int
) -> tuple[int, list[tuple[AssetEvent, str]]]:
    """One page of EvoLink events, newest first, with each event's Asset name, and the total count.

    :param readable_dag_ids: the DAGs the auth manager lets the user read; events of other DAGs never appear,
        not even in the count.
    :param offset: events to skip; ``limit``: events on this page (both counts of events, not files).
    """
    query = _filtered(_evolink_events(readable_dag_ids), wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = (
        query.join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .add_columns(AssetModel.name)
        .order_by(AssetEvent.timestamp.desc(), AssetEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, [(event, name) for event, name in session.execute(page)]


def facets(session: Session, readable_dag_ids: Collection[str]) -> dict[str, list[str]]:
    """The DAG IDs and models that have videos the user may see (the gallery's filter choices), sorted."""
    events = _evolink_events(readable_dag_ids).subquery()
    dag_ids = session.scalars(select(events.c.source_dag_id).distinct())
    models = session.scalars(select(type_coerce(events.c.extra, JSON)["model"].as_string()).distinct())
    return {"dag_ids": sorted(filter(None, dag_ids)), "models": sorted(filter(None, models))}


def find_file(session: Session, dag_id: str, asset_id: int, event_id: int, index: int) -> StoredFile | None:
    """File ``index`` (0-based) of EvoLink event ``event_id``, or ``None`` when there is no such video.

    ``dag_id`` and ``asset_id`` must be the event's own: they come from the URL the caller was authorized for,
    so an authorization for one DAG or Asset never opens another's video.
    """
    query = _evolink_events([dag_id]).where(AssetEvent.id == event_id, AssetEvent.asset_id == asset_id)
    event = session.scalar(query)
    files = _files(event.extra) if event is not None else []
    return files[index] if 0 <= index < len(files) else None


def _files(extra: Any) -> list[StoredFile]:
    files = extra.get("files") if isinstance(extra, dict) else None
    stored = []
    for item in files if isinstance(files, list) else []:
        uri = item.get("uri") if isinstance(item, dict) else None
        if isinstance(uri, str) and uri:
            size = item.get("bytes")
            stored.append(StoredFile(uri, size if isinstance(size, int) else None, _checksum(item)))
    return stored


def _checksum(item: dict[str, Any]) -> str | None:
    """``"<algorithm>:<value>"`` of a file entry (events written before CRC32C carry ``sha256``)."""
    for name in ("crc32c", "sha256"):
        if isinstance(value := item.get(name), str) and value:
            return f"{name}:{value}"
    return None


def video_cards(event: AssetEvent, asset_name: str) -> list[dict[str, Any]]:
    """The gallery cards of one event (one per stored file), as JSON-ready dicts; no URI leaves the server
    except the file's base name."""
    extra = event.extra if isinstance(event.extra, dict) else {}
    usage = extra.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    base = f"dags/{event.source_dag_id}/assets/{event.asset_id}/events/{event.id}/files"
    return [
        {
            "id": f"{event.id}-{index}",
            "dag_id": event.source_dag_id,
            "run_id": event.source_run_id,
            "task_id": event.source_task_id,
            "map_index": event.source_map_index,
            "asset": asset_name,
            "timestamp": event.timestamp.isoformat(),
            "evolink_task_id": _text(extra.get("evolink_task_id")),
            "prompt": _text(extra.get("prompt")),
            "model": _text(extra.get("model")),
            "duration": _number(extra.get("duration")),
            "quality": _text(quality_of(extra)),
            "credits_reserved": _number(usage.get("credits_reserved")),
            "billing_rule": _text(usage.get("billing_rule")),
            "credits_estimated": _number(usage.get("credits_estimated")),
            "estimate_source": _text(usage.get("estimate_source")),
            "render_seconds": _number(extra.get("render_seconds")),
            "bytes": stored.size,
            "file_name": posixpath.basename(stored.uri),
            "stream": f"{base}/{index}/content",
            "poster": f"{base}/{index}/poster",
        }
        for index, stored in enumerate(_files(extra))
    ]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
