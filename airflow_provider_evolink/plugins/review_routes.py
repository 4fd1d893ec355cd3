"""
The gallery's routes for a review task instance (``operators/review.py``), included in the app of ``api.py``::

    GET /api/review?dag_id=&run_id=&task_id=&map_index=          JSON: the review (state, by whom, when, comment),
                                                                 the reviewed videos (gallery cards) and the UI
                                                                 path of its "Required actions" form
    GET /api/review/poster?dag_id=&run_id=&task_id=&map_index=   307 to the reviewed video's poster route

Security as for the rest of the gallery: an authenticated user (401), Airflow's DAG read permission for the
``dag_id`` of the query, read permission for its HITL details, and Asset read permission (403); the video and
poster routes the answers point at check the DAG and the Asset again. What is reviewed is read from the review
task's own XCom in the database, never from the request. Responding is Airflow's own "Required actions" form, with
Airflow's own permission checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_asset, requires_access_dag
from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import RedirectResponse

from airflow_provider_evolink.plugins import catalog, reviews

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["router"]

#: At most this many Asset events of the reviewed task instance are read (one per outlet Asset of the save task).
_MAX_EVENTS = 10

router = APIRouter(
    dependencies=[
        Depends(requires_access_dag("GET")),
        # The review's answer (who, when, comment) is the DAG's HITL detail, as Airflow's own HITL routes guard it.
        Depends(requires_access_dag("GET", DagAccessEntity.HITL_DETAIL)),
        Depends(requires_access_asset("GET")),
    ]
)


@router.get("/api/review")
def review_of_task(dag_id: str, run_id: str, task_id: str, session: SessionDep, map_index: int = -1) -> dict[str, Any]:
    """The review asked by a review task instance, shape ``{"review": Review.as_json(), "videos": [card, ...],
    "required_actions": str}`` (the form's path under the UI root); 404 when the task instance asked none."""
    review, videos = _reviewed(session, (dag_id, run_id, task_id, map_index))
    form = f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    query = f"?map_index={map_index}" if map_index >= 0 else ""
    return {"review": review.as_json(), "videos": videos, "required_actions": f"{form}/required_actions{query}"}


@router.get("/api/review/poster")
def review_poster(dag_id: str, run_id: str, task_id: str, session: SessionDep, map_index: int = -1) -> Any:
    """A temporary redirect to the poster of the first video the review task instance reviews (404 if none)."""
    _, videos = _reviewed(session, (dag_id, run_id, task_id, map_index))
    if not videos:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The reviewed video has no Asset event")
    # Relative to …/api/review/poster, so the redirect stays under the UI's base path.
    return RedirectResponse(f"../{videos[0]['poster']}", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


def _reviewed(session: Session, review_task: reviews.TaskKey) -> tuple[reviews.Review, list[dict[str, Any]]]:
    review = reviews.review_of_task(session, review_task)
    if review is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This task instance asked for no EvoLink video review")
    dag_id, run_id, _, _ = review_task
    save_task_id = review.reviewed.get("save_task_id")
    save_map_index = review.reviewed.get("save_map_index", -1)
    wanted = catalog.VideoFilter(dag_id=dag_id, run_id=run_id, task_id=save_task_id, map_index=save_map_index)
    _, events = catalog.list_videos(session, [dag_id], wanted, offset=0, limit=_MAX_EVENTS)
    return review, [card for event, asset in events for card in catalog.video_cards(event, asset)]
