"""
The gallery's FastAPI app, mounted at ``/evolink`` on the Airflow API server (built on its first request).

Routes (relative to the mount)::

    GET /videos                    the gallery page (plain HTML/JS; ?dag_id=&run_id=&task_id=&map_index= narrows
                                   it to one task instance: the task-instance tab)
    GET /static/{name}             its script, style sheet and icons
    GET /api/videos                JSON: one page of videos, newest first (?dag_id=&model=&run_id=&task_id=
                                   &map_index=&review=&offset=&limit=), the total, and the DAGs/models to
                                   filter by; each card has its review state (``reviews.py``)
    GET /api/review…               a review task instance's review and videos (``review_routes.py``)
    GET /api/dags/{dag_id}/assets/{asset_id}/events/{event_id}/files/{index}/content   the video (HTTP Range)
    GET /api/dags/{dag_id}/assets/{asset_id}/events/{event_id}/files/{index}/poster    its poster (JPEG)

Security: every route needs an authenticated Airflow user (the API server's ``get_user``: JWT cookie or bearer
token; 401 without). The list needs the auth manager's Asset read permission and shows only events of DAGs the
auth manager lets the user read (``get_authorized_dag_ids``, as Airflow's own Asset events endpoint does). A
video route is authorized by ``requires_access_dag`` and ``requires_access_asset`` for the DAG and Asset in its
URL (403), and then serves only a file of an EvoLink Asset event of that DAG and Asset (404 otherwise): the URI
is read from the database, never from the request.
"""

from __future__ import annotations

import mimetypes
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import (
    ReadableDagsFilterDep,
    get_user,
    requires_access_asset,
    requires_access_dag,
)
from airflow.sdk import ObjectStoragePath
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse

from airflow_provider_evolink.plugins import catalog, posters, review_routes, reviews
from airflow_provider_evolink.plugins.streaming import read_range
from airflow_provider_evolink.ranges import RangeNotSatisfiable, byte_range

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["create_app"]

#: Videos per page of the JSON list: default and maximum.
PAGE_SIZE = 24
MAX_PAGE_SIZE = 100
#: Files under ``static/`` the app serves, with their media types; nothing else is ever read from disk.
_STATIC = {
    "gallery.js": "text/javascript",
    "review.js": "text/javascript",
    "gallery.css": "text/css",
    "icon.svg": "image/svg+xml",
    "icon-dark.svg": "image/svg+xml",
}
# The page loads only its own script, style sheet, posters and videos, and only the Airflow UI may frame it.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "connect-src 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_FILE = "/api/dags/{dag_id}/assets/{asset_id}/events/{event_id}/files/{index}"
_AUTHORIZED_FILE = [Depends(requires_access_dag("GET")), Depends(requires_access_asset("GET"))]

router = APIRouter()


def create_app() -> FastAPI:
    """The gallery app; call it once the API server has initialised its auth manager."""
    app = FastAPI(title="EvoLink videos", docs_url=None, redoc_url=None, openapi_url=None)
    # Airflow's security dependencies read the auth manager from request.app, which is this sub-app.
    app.state.auth_manager = get_auth_manager()
    app.include_router(router)
    app.include_router(review_routes.router)
    return app


@router.get("/videos", dependencies=[Depends(get_user)])
def gallery_page() -> Response:
    """The gallery page (also the task-instance tab, with query parameters naming the task instance)."""
    page = resources.files("airflow_provider_evolink.plugins").joinpath("static/gallery.html").read_bytes()
    return Response(page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/static/{name}", dependencies=[Depends(get_user)])
def static_file(name: str) -> Response:
    """One of the page's fixed static files (:data:`_STATIC`); any other name is 404."""
    if name not in _STATIC:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    body = resources.files("airflow_provider_evolink.plugins").joinpath(f"static/{name}").read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "private, max-age=300"})


@router.get("/api/videos", dependencies=[Depends(requires_access_asset("GET"))])
def list_videos(
    readable: ReadableDagsFilterDep,
    session: SessionDep,
    dag_id: str | None = None,
    model: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    review: Annotated[str | None, Query(pattern=f"^({'|'.join(reviews.STATES)})$")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> dict[str, object]:
    """One page of videos (newest first) with ``total_entries`` (events) and the filter choices.

    ``review``: only videos in this review state (:data:`reviews.STATES`).
    Shape: ``{"videos": [card, ...], "total_entries": int, "offset": int, "limit": int, "dag_ids": [str],
    "models": [str]}``; a card is described by :func:`catalog.video_cards`.
    """
    readable_dag_ids = readable.value or set()
    wanted = catalog.VideoFilter(dag_id=dag_id, model=model, run_id=run_id, task_id=task_id, map_index=map_index)
    if review is not None:
        keys = catalog.event_keys(session, readable_dag_ids, wanted)
        wanted = replace(wanted, event_ids=frozenset(reviews.select_state(session, keys, review)))
    total, page = catalog.list_videos(session, readable_dag_ids, wanted, offset=offset, limit=limit)
    return {
        "videos": _with_reviews(session, [card for event, name in page for card in catalog.video_cards(event, name)]),
        "total_entries": total,
        "offset": offset,
        "limit": limit,
        **catalog.facets(session, readable_dag_ids),
    }


def _with_reviews(session: Session, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each card with its ``review`` (:meth:`reviews.Review.as_json`, ``None`` when no review task asked)."""
    found = reviews.reviews_of(session, {_source(card) for card in cards})
    return [card | {"review": found[key].as_json() if (key := _source(card)) in found else None} for card in cards]


def _source(card: dict[str, Any]) -> reviews.TaskKey:
    return card["dag_id"], card["run_id"], card["task_id"], card["map_index"]


@router.get(_FILE + "/content", dependencies=_AUTHORIZED_FILE)
def video_content(
    dag_id: str, asset_id: int, event_id: int, index: int, request: Request, session: SessionDep
) -> Response:
    """The stored video: 200 with the whole object, 206 for a satisfiable ``Range``, 416 for one past the end."""
    _, path = _stored_file(session, dag_id, asset_id, event_id, index)
    try:
        size = int(path.stat()["size"])  # the object as it is now, not the size recorded in the event
    except FileNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The stored video no longer exists") from None
    try:
        span = byte_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return Response(status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"})
    start, end = span or (0, size)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start), "Cache-Control": "private, max-age=300"}
    # Sent as stored: Airflow 3.1's API server would otherwise gzip the (already compressed) video, dropping its length.
    headers["Content-Encoding"] = "identity"
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        read_range(path, start, end),
        status_code=status.HTTP_206_PARTIAL_CONTENT if span else status.HTTP_200_OK,
        media_type=media_type,
        headers=headers,
    )


@router.get(_FILE + "/poster", dependencies=_AUTHORIZED_FILE)
def video_poster(dag_id: str, asset_id: int, event_id: int, index: int, session: SessionDep) -> Response:
    """The video's poster frame (JPEG), made on first request and cached (:mod:`posters`); 404 if none can be made."""
    stored, path = _stored_file(session, dag_id, asset_id, event_id, index)
    try:
        jpeg = posters.poster(stored, path)
    except FileNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The stored video no longer exists") from None
    except posters.PosterUnavailable as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No poster: {error}") from None
    return FileResponse(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


def _stored_file(
    session: Session, dag_id: str, asset_id: int, event_id: int, index: int
) -> tuple[catalog.StoredFile, ObjectStoragePath]:
    """The recorded file and its path; 404 when the event is not an EvoLink video of this DAG and Asset."""
    stored = catalog.find_file(session, dag_id, asset_id, event_id, index)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such EvoLink video")
    return stored, ObjectStoragePath(stored.uri)
