"""The review operators: Airflow's HITL operators with the video's facts, a comment field and the review record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import DAG

from airflow_provider_evolink.operators.review import (
    APPROVE,
    COMMENT,
    REJECT,
    XCOM_DECISION,
    XCOM_REVIEW,
    EvoLinkVideoReviewBranchOperator,
    EvoLinkVideoReviewOperator,
    decision_of,
    review_body,
    review_links,
    review_record,
)
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator
from airflow_provider_evolink.xcom import XCOM_SUBMISSION

URI = "file:///data/videos/run 1/task-unified-abc.mp4"
SUBMISSION = {
    "evolink_task_id": "task-unified-abc",
    "model": "seedance-2.0-fast-text-to-video",
    "prompt": "A *bold* [link](javascript:alert(1)) <img src=x onerror=alert(1)>",
    "duration": 5,
    "quality": "480p",
    "usage": {"credits_reserved": 41.5},
}


class FakeTI:
    """The XComs of one DAG run, as ``context["ti"]`` reads and writes them."""

    def __init__(self, xcoms: dict[tuple[str, str], Any], *, run_id: str = "manual__2026-12-08", map_index: int = -1):
        self.xcoms = xcoms
        self.pushed: dict[str, Any] = {}
        self.dag_id, self.run_id, self.task_id, self.map_index = "review_dag", run_id, "review", map_index

    def xcom_pull(self, task_ids: Any, key: str = "return_value") -> Any:
        if isinstance(task_ids, list):
            return [self.xcoms[task_id, key] for task_id in task_ids if (task_id, key) in self.xcoms]
        return self.xcoms.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def review_dag(**review_kwargs: Any) -> tuple[DAG, Any]:
    with DAG("review_dag", schedule=None) as dag:
        generate = EvoLinkToStorageOperator(task_id="generate_stub", evolink_task_id="x", destination="/tmp/x")
        save = EvoLinkToStorageOperator(task_id="save", evolink_task_id="x", destination="/tmp/x")
        review = EvoLinkVideoReviewOperator(task_id="review", save_task_id="save", **review_kwargs)
        generate >> save >> review
    return dag, review


def stored_run() -> FakeTI:
    return FakeTI({("save", "return_value"): [URI], ("generate_stub", XCOM_SUBMISSION): SUBMISSION})


def test_the_record_reads_the_stored_files_and_the_generate_tasks_submission() -> None:
    dag, _ = review_dag()
    record = review_record(stored_run(), dag.get_task("save"))
    assert record == {
        "save_task_id": "save",
        "save_map_index": -1,
        "files": [URI],
        "evolink_task_id": "task-unified-abc",
        "model": "seedance-2.0-fast-text-to-video",
        "prompt": SUBMISSION["prompt"],
        "duration": 5,
        "credits": 41.5,
    }


def test_a_submission_of_another_evolink_task_is_not_taken_for_this_video() -> None:
    dag, _ = review_dag()
    ti = stored_run()
    ti.xcoms["generate_stub", XCOM_SUBMISSION] = {**SUBMISSION, "evolink_task_id": "task-unified-other"}
    record = review_record(ti, dag.get_task("save"))
    assert (record["files"], record["model"], record["credits"]) == ([URI], None, None)


@pytest.mark.parametrize("stored", [None, [], "not a list", [1]])
def test_nothing_stored_fails_the_review_without_retries(stored: Any) -> None:
    from airflow_provider_evolink.compat import AirflowFailException

    dag, _ = review_dag()
    with pytest.raises(AirflowFailException, match="save_task_id 'save' stored no files"):
        review_record(FakeTI({("save", "return_value"): stored}), dag.get_task("save"))


def test_the_body_is_markdown_whose_only_links_are_the_player_and_the_poster() -> None:
    dag, _ = review_dag()
    record = review_record(stored_run(), dag.get_task("save"))
    body = review_body(record, player_url="/dags/d/runs/r/tasks/review/plugin/x", poster_url="/evolink/p?q=1")

    assert body.startswith(
        "[![Poster of the video: open the player](/evolink/p?q=1)](/dags/d/runs/r/tasks/review/plugin/x)"
    )
    assert "| Model | seedance\\-2\\.0\\-fast\\-text\\-to\\-video |" in body
    assert "| Duration | 5 s |" in body
    assert "| Credits | 41\\.5 |" in body
    assert "| Files | task\\-unified\\-abc\\.mp4 |" in body
    # The prompt cannot add markup, links or HTML; the stored URI never appears, only its file name.
    assert "\\*bold\\*" in body
    assert "\\[link\\]\\(javascript:alert\\(1\\)\\)" in body
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in body  # escaped: shown as text, never parsed as HTML
    assert "file://" not in body
    assert "/data/videos" not in body


def test_links_use_the_api_base_url_and_quote_the_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/sub/")
    player, poster = review_links(FakeTI({}, run_id="manual__2026-12-08T00:00:00+00:00"))
    assert player == (
        "https://airflow.example.com/sub/dags/review_dag/runs/manual__2026-12-08T00%3A00%3A00%2B00%3A00"
        "/tasks/review/plugin/evolink-task-videos"
    )
    assert poster == (
        "https://airflow.example.com/sub/evolink/api/review/poster?dag_id=review_dag"
        "&run_id=manual__2026-12-08T00%3A00%3A00%2B00%3A00&task_id=review&map_index=-1"
    )


@pytest.mark.parametrize("base_url", ["", "ftp://airflow.example.com", "javascript:alert(1)"])
def test_without_an_http_base_url_links_are_root_relative(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    player, poster = review_links(FakeTI({}, map_index=2))
    assert player.startswith("/dags/review_dag/runs/")
    assert player.endswith("/tasks/review/mapped/2/plugin/evolink-task-videos")
    assert poster.startswith("/evolink/api/review/poster?")


def test_the_approval_form_has_approve_reject_and_an_optional_comment() -> None:
    _, review = review_dag(assigned_users={"id": "ana", "name": "Ana"}, response_timeout=timedelta(hours=2))
    assert review.options == [APPROVE, REJECT]
    assert review.subject == "Review the EvoLink video"
    assert list(review.params) == [COMMENT]  # the DAG's own params stay out of the form
    assert review.serialized_params[COMMENT]["schema"]["type"] == ["null", "string"]
    assert review.assigned_users == [{"id": "ana", "name": "Ana"}]
    assert review.response_timeout == timedelta(hours=2)


def test_the_form_never_shows_the_dags_params() -> None:
    with DAG("with_params", schedule=None, params={"prompt": "a lighthouse", "destination": "/tmp/v"}):
        review = EvoLinkVideoReviewOperator(task_id="review", save_task_id="save", params={"reason": "x"})
    assert set(review.serialized_params) == {COMMENT, "reason"}


def test_the_branch_review_maps_the_decision_to_tasks_and_refuses_an_unknown_option() -> None:
    review = EvoLinkVideoReviewBranchOperator(
        task_id="review", save_task_id="save", options_mapping={APPROVE: "publish", REJECT: "drop"}, defaults=REJECT
    )
    assert (review.options, review.defaults) == ([APPROVE, REJECT], [REJECT])
    with pytest.raises(ValueError, match="not in `options`"):
        EvoLinkVideoReviewBranchOperator(task_id="r2", save_task_id="save", options_mapping={"Maybe": "publish"})
    with pytest.raises(ValueError, match="save_task_id must name"):
        EvoLinkVideoReviewOperator(task_id="r3", save_task_id="")


def test_execute_pushes_the_record_writes_the_body_then_waits_as_airflow_does(monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[str | None] = []
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: waited.append(self.body))
    dag, review = review_dag(body="Check the **logo**.")
    ti = stored_run()
    review.execute({"ti": ti, "dag": dag})

    assert ti.pushed[XCOM_REVIEW]["files"] == [URI]
    [body] = waited
    assert body.startswith("Check the **logo**.\n\n[![Poster")


def test_a_missing_save_task_fails_before_asking_anyone() -> None:
    from airflow_provider_evolink.compat import AirflowFailException

    with DAG("lonely", schedule=None) as dag:
        review = EvoLinkVideoReviewOperator(task_id="review", save_task_id="save")
    with pytest.raises(AirflowFailException, match="'save' is not a task of DAG 'lonely'"):
        review.execute({"ti": stored_run(), "dag": dag})


def test_the_decision_is_pushed_then_airflow_skips_what_a_rejection_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    event = {
        "chosen_options": [REJECT],
        "params_input": {COMMENT: "the logo is cut off"},
        "responded_by_user": {"id": "ana", "name": "Ana"},
        "responded_at": answered,
    }
    assert decision_of(event) == {
        "chosen_options": [REJECT],
        "comment": "the logo is cut off",
        "responded_by": "Ana",
        "responded_at": "2026-12-08T01:00:00+00:00",
    }
    passed: list[dict[str, Any]] = []
    monkeypatch.setattr(ApprovalOperator, "execute_complete", lambda self, context, event: passed.append(event))
    _, review = review_dag()
    ti = stored_run()
    review.execute_complete({"ti": ti}, event)
    assert ti.pushed[XCOM_DECISION]["comment"] == "the logo is cut off"
    assert passed == [event]
