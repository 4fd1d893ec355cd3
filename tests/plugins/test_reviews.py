"""Review state in the gallery, read from Airflow's own ``hitl_detail`` record, and the review task's routes.

The package's runs have no review task, so one task instance of the local run (``wait``) is given what a review
task writes: the ``evolink_review`` XCom (as ``operators/review.py`` pushes it) and a ``hitl_detail`` row (as
Airflow's HITL operator writes it and its API records the response). The real operator in a real Airflow is the
browser test's (tests/ui/test_review.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import MOTION, REFERENCE, GalleryRuns
from .test_api import list_videos

REVIEW_TASK = "wait"  # stands in for the review task instance of the local run


@pytest.fixture
def review(gallery_runs: GalleryRuns, api_client: Any) -> Iterator[Any]:
    """The local run's review, waiting; yields a function that records a response the way Airflow's API does."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    run_id = gallery_runs.local.run_id
    record = {"save_task_id": "save", "save_map_index": -1, "files": ["file:///x.mp4"], "model": "m"}
    with create_session() as session:
        XComModel.set("evolink_review", record, dag_id=REFERENCE, task_id=REVIEW_TASK, run_id=run_id, session=session)
        ti_id = session.scalar(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == REFERENCE, TaskInstance.run_id == run_id, TaskInstance.task_id == REVIEW_TASK
            )
        )
        session.add(HITLDetail(ti_id=ti_id, options=["Approve", "Reject"], subject="Review", body="b", params={}))

    def respond(option: str, comment: str | None) -> None:
        with create_session() as session:
            detail = session.get(HITLDetail, ti_id)
            detail.chosen_options = [option]
            detail.params_input = {"comment": comment}
            detail.responded_by = {"id": "ana", "name": "Ana"}
            detail.responded_at = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)

    yield respond
    from airflow.models import xcom

    # From Airflow 3.4 XComModel reads two stores (a subquery, not a table) and new values go to XComModelV2.
    written = getattr(xcom, "XComModelV2", XComModel)
    with create_session() as session:
        session.execute(delete(HITLDetail).where(HITLDetail.ti_id == ti_id))
        session.execute(delete(written).where(written.key == "evolink_review"))


def local_card(client: Any, headers: dict[str, str], runs: GalleryRuns, **params: Any) -> dict[str, Any] | None:
    videos = list_videos(client, headers, dag_id=REFERENCE, **params)["videos"]
    return next((video for video in videos if video["run_id"] == runs.local.run_id), None)


def test_cards_without_a_review_task_say_so(api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns) -> None:
    page = list_videos(api_client, admin)
    assert {video["review"] for video in page["videos"]} == {None}
    assert list_videos(api_client, admin, review="unreviewed")["total_entries"] == page["total_entries"]
    assert list_videos(api_client, admin, review="waiting")["total_entries"] == 0


def test_a_card_shows_waiting_then_who_approved_when_and_why(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, review: Any
) -> None:
    card = local_card(api_client, admin, gallery_runs)
    assert card is not None
    assert card["review"] == {
        "state": "waiting",
        "task_id": REVIEW_TASK,
        "map_index": -1,
        "chosen_options": [],
        "by": None,
        "at": None,
        "comment": None,
    }
    waiting = list_videos(api_client, admin, review="waiting")
    assert [video["run_id"] for video in waiting["videos"]] == [gallery_runs.local.run_id]
    assert waiting["total_entries"] == 1

    review("Approve", "great light")
    card = local_card(api_client, admin, gallery_runs)
    assert card is not None
    assert (card["review"]["state"], card["review"]["by"], card["review"]["comment"]) == (
        "approved",
        "Ana",
        "great light",
    )
    assert card["review"]["at"].startswith("2026-12-08T01:30:00")
    assert local_card(api_client, admin, gallery_runs, review="approved") is not None
    assert local_card(api_client, admin, gallery_runs, review="waiting") is None
    assert api_client.get("/evolink/api/videos", params={"review": "maybe"}, headers=admin).status_code == 422


def test_a_rejection_is_shown_as_rejected(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, review: Any
) -> None:
    review("Reject", None)
    card = local_card(api_client, admin, gallery_runs, review="rejected")
    assert card is not None
    assert card["review"]["state"] == "rejected"


def test_the_review_task_route_gives_the_reviewed_video_and_the_form(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, review: Any
) -> None:
    run_id = gallery_runs.local.run_id
    where = {"dag_id": REFERENCE, "run_id": run_id, "task_id": REVIEW_TASK, "map_index": -1}
    answer = api_client.get("/evolink/api/review", params=where, headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["review"]["state"] == "waiting"
    [video] = body["videos"]
    assert (video["task_id"], video["run_id"]) == ("save", run_id)
    assert body["required_actions"].endswith(f"/tasks/{REVIEW_TASK}/required_actions")
    assert "uri" not in video
    assert "file:///x.mp4" not in answer.text  # the record's URIs stay on the server

    poster = api_client.get("/evolink/api/review/poster", params=where, headers=admin, follow_redirects=False)
    assert poster.status_code == 307
    assert poster.headers["location"] == f"../{video['poster']}"

    other = {**where, "task_id": "generate"}
    assert api_client.get("/evolink/api/review", params=other, headers=admin).status_code == 404


def test_review_routes_need_a_login_and_the_dag(
    api_client: Any, viewer: dict[str, str], gallery_runs: GalleryRuns
) -> None:
    where = {"dag_id": MOTION, "run_id": gallery_runs.motion.run_id, "task_id": "review"}
    for route in ("/evolink/api/review", "/evolink/api/review/poster"):
        assert api_client.get(route, params=where).status_code == 401
        assert api_client.get(route, params=where, headers=viewer).status_code == 403
