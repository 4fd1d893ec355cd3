"""
The review state of gallery videos, read from Airflow's own record of each HITL response (``hitl_detail``).

A review task (``operators/review.py``) pushes the ``evolink_review`` XCom naming the save task instance it reviews
(same DAG run), then writes its HITL request. So the review of a video is found by reading, for the video's DAG run,
the ``evolink_review`` XComs, their task instances and those task instances' ``hitl_detail`` rows; when several
review tasks reviewed the same save task, the latest request (its XCom's timestamp) counts. Nothing here is written.

States: ``waiting`` (asked, no response yet: the task is ``deferred`` on Airflow 3.1/3.2, ``awaiting_input`` on
3.3), ``approved`` / ``rejected`` (the response chose "Approve" / "Reject"), ``responded`` (another option of a
branching review); a video with no review task is ``unreviewed``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow.models.hitl import HITLDetail
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import and_, select, tuple_

from airflow_provider_evolink.operators.review import APPROVE, COMMENT, REJECT, XCOM_REVIEW

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["STATES", "Review", "TaskKey", "review_of_task", "reviews_of", "select_state"]

#: ``(dag_id, run_id, task_id, map_index)`` of a task instance.
TaskKey = tuple[str, str, str, int]
#: The review states the gallery filters by.
STATES = ("unreviewed", "waiting", "approved", "rejected", "responded")


@dataclass(frozen=True)
class Review:
    """One review of a stored video, as the gallery shows it (JSON-ready with :func:`dataclasses.asdict`).

    ``by`` is the responding user's name, ``at`` the response time (ISO 8601), ``comment`` the form's
    ``comment``; all ``None`` while ``waiting``. ``task_id``/``map_index``: the review task instance.
    """

    state: str
    task_id: str
    map_index: int
    chosen_options: list[str]
    by: str | None
    at: str | None
    comment: str | None
    reviewed: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The review as a card shows it (without the reviewed record, which holds stored URIs)."""
        public = asdict(self)
        del public["reviewed"]
        return public


def reviews_of(session: Session, saved: Collection[TaskKey]) -> dict[TaskKey, Review]:
    """The latest review of each save task instance in ``saved`` that has one (others are left out)."""
    runs = {(dag_id, run_id) for dag_id, run_id, _, _ in saved}
    found: dict[TaskKey, Review] = {}
    for (dag_id, run_id, _, _), review in _reviews_in(session, runs):
        save_task_id: Any = review.reviewed.get("save_task_id")
        key: TaskKey = (dag_id, run_id, save_task_id, review.reviewed.get("save_map_index", -1))
        if key in saved:
            found[key] = review  # rows come oldest first: a later review replaces an earlier one
    return found


def select_state(session: Session, keys: Iterable[tuple[int, TaskKey]], state: str) -> set[int]:
    """The IDs of the events (``(event_id, save task instance)`` pairs) whose video is in review ``state``."""
    pairs = list(keys)
    reviews = reviews_of(session, {key for _, key in pairs})
    return {event_id for event_id, key in pairs if (reviews[key].state if key in reviews else "unreviewed") == state}


def review_of_task(session: Session, review_task: TaskKey) -> Review | None:
    """The review a review task instance asked for, or ``None`` when it is not one (or has not started)."""
    for key, review in _reviews_in(session, {review_task[:2]}):
        if key == review_task:
            return review
    return None


def _reviews_in(session: Session, runs: Collection[tuple[str, str]]) -> Iterable[tuple[TaskKey, Review]]:
    """Every review of the DAG runs ``runs``, oldest request first, keyed by the review task instance."""
    if not runs:
        return []
    same_ti = and_(
        TaskInstance.dag_id == XComModel.dag_id,
        TaskInstance.run_id == XComModel.run_id,
        TaskInstance.task_id == XComModel.task_id,
        TaskInstance.map_index == XComModel.map_index,
    )
    query = (
        select(XComModel, HITLDetail)
        .join(TaskInstance, same_ti)
        .outerjoin(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
        .where(XComModel.key == XCOM_REVIEW, tuple_(XComModel.dag_id, XComModel.run_id).in_(list(runs)))
        .order_by(XComModel.timestamp.asc())  # pushed just before the request is written
    )
    return [
        ((xcom.dag_id, xcom.run_id, xcom.task_id, xcom.map_index), _review(xcom, detail))
        for xcom, detail in session.execute(query)
    ]


def _review(xcom: Any, detail: HITLDetail | None) -> Review:
    reviewed = XComModel.deserialize_value(xcom)
    common = {
        "task_id": xcom.task_id,
        "map_index": xcom.map_index,
        "reviewed": reviewed if isinstance(reviewed, dict) else {},
    }
    if detail is None or detail.responded_at is None:
        return Review(state="waiting", chosen_options=[], by=None, at=None, comment=None, **common)
    chosen = list(detail.chosen_options or [])
    user = detail.responded_by
    params_input = detail.params_input
    return Review(
        state=_state(chosen),
        chosen_options=chosen,
        by=user.get("name") if isinstance(user, dict) else None,
        at=detail.responded_at.isoformat(),
        comment=params_input.get(COMMENT) if isinstance(params_input, dict) else None,
        **common,
    )


def _state(chosen: list[str]) -> str:
    if APPROVE in chosen:
        return "approved"
    if REJECT in chosen:
        return "rejected"
    return "responded"
