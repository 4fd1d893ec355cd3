"""
Review before publishing in a real browser, on the session's ``airflow_ui`` (no Airflow of its own): two runs of
``evolink_review_and_publish`` against the emulator; in the first, Debian Chromium opens the review task's
"EvoLink videos" tab, plays the video (its ``currentTime`` advances), follows "Approve or reject…" to Airflow's
Required actions form and approves with a comment; publish runs and its Asset event exists, and the gallery card
shows "Approved by admin" with the comment. The second run is rejected through Airflow's HITL API: nothing is
published and the gallery filter shows it as rejected. Without a login the review routes are 401 (a user denied the
DAG, 403, is tested against the API server app in tests/plugins/test_reviews.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.compat import AIRFLOW_V_3_3_PLUS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra: `make venv`").expect

DAG_ID = "evolink_review_and_publish"
APPROVED, REJECTED = "review_browser_approved", "review_browser_rejected"
COMMENT = "Lovely light, ship it"
#: How a review task waits: Airflow 3.3 parks it in awaiting_input, 3.1/3.2 defer it to Airflow's HITL trigger.
WAITING = "awaiting_input" if AIRFLOW_V_3_3_PLUS else "deferred"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = Path(os.environ.get("EVOLINK_UI_ARTIFACTS", REPO / "tmp" / "artifacts")) / "review.png"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def review_runs(airflow_ui: Any, ui_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both runs triggered, each waiting in its review task; returns the destination folder."""
    folder = tmp_path_factory.mktemp("review-videos")
    connection = {
        "connection_id": "evolink_default",
        "conn_type": "evolink",
        "host": ui_emulator.base_url,
        "password": ui_emulator.api_key,
    }
    airflow_ui.api("DELETE", "/api/v2/connections/evolink_default")
    airflow_ui.api("POST", "/api/v2/connections", json=connection).raise_for_status()
    airflow_ui.wait_for_dag(DAG_ID)
    airflow_ui.api("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    for run_id in (APPROVED, REJECTED):
        body = {"dag_run_id": run_id, "logical_date": None, "conf": {"duration": 4, "destination": folder.as_uri()}}
        airflow_ui.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json=body).raise_for_status()
    for run_id in (APPROVED, REJECTED):
        airflow_ui.wait_for(
            f"{run_id}'s review to wait for a person",
            lambda run_id=run_id: airflow_ui.task_states(DAG_ID, run_id).get("review") == WAITING or None,
            timeout=300,
        )
    return folder


def published_events(airflow_ui: Any) -> list[tuple[str, dict[str, Any]]]:
    sql = (
        "SELECT e.source_run_id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'evolink/published'"
    )
    return [
        (run_id, extra if isinstance(extra, dict) else json.loads(extra)) for run_id, extra in airflow_ui.query(sql)
    ]


def test_a_reviewer_plays_the_video_on_the_review_tab_and_approves_it(
    page: Any, airflow_ui: Any, review_runs: Path
) -> None:
    page.goto(f"/dags/{DAG_ID}/runs/{APPROVED}/tasks/review")
    page.locator("a[href$='/plugin/evolink-task-videos']").click()
    tab = page.frame_locator("iframe").first
    expect(tab.locator("#title")).to_have_text("Review this EvoLink video")
    expect(tab.locator("#review-state")).to_contain_text("Waiting for review")
    card = tab.locator("article.card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("seedance-2.0-fast-text-to-video")

    card.locator("button.thumb").click()  # a user's click: playback with sound needs one
    video = tab.locator("#video")
    wait_until(lambda: float(video.evaluate("v => v.currentTime")) > 0.5, "the video to play")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)

    tab.locator("#review-respond").click()  # one click to Airflow's own form
    expect(page).to_have_url(re.compile(r"/tasks/review/required_actions"))
    page.locator("[name=element_comment], #element_comment").first.fill(COMMENT)  # the form's Comment field
    # Airflow's own option button: a test id from 3.2, only its label on 3.1.
    page.get_by_test_id("hitl-option-Approve").or_(page.get_by_role("button", name="Approve", exact=True)).first.click()

    _, state = airflow_ui.wait_for_run(DAG_ID, APPROVED)
    states = airflow_ui.task_states(DAG_ID, APPROVED)
    assert (state, states["publish"], states["mark_rejected"]) == ("success", "success", "skipped"), states
    [(_, extra)] = [event for event in published_events(airflow_ui) if event[0] == APPROVED]
    assert extra["approved_by"] == "admin"
    assert extra["comment"] == COMMENT
    [published] = extra["files"]
    assert Path(published.removeprefix("file://")).is_file()
    assert f"/published/{APPROVED}/" in published

    page.goto("/evolink/videos?review=approved")
    approved = page.locator("article.card", has_text=APPROVED)
    expect(approved.locator(".review-badge")).to_contain_text("Approved by admin")
    expect(approved.locator(".review-badge")).to_contain_text(COMMENT)


def test_a_rejected_video_is_not_published_and_the_gallery_says_rejected(
    page: Any, airflow_ui: Any, review_runs: Path
) -> None:
    answer = airflow_ui.api(
        "PATCH",
        f"/api/v2/dags/{DAG_ID}/dagRuns/{REJECTED}/taskInstances/review/-1/hitlDetails",
        json={"chosen_options": ["Reject"], "params_input": {"comment": "too dark"}},
    )
    assert answer.status_code == 200, answer.text
    _, state = airflow_ui.wait_for_run(DAG_ID, REJECTED)
    states = airflow_ui.task_states(DAG_ID, REJECTED)
    assert (state, states["publish"], states["mark_rejected"]) == ("success", "skipped", "success"), states
    assert [event for event in published_events(airflow_ui) if event[0] == REJECTED] == []
    assert not (review_runs / "published" / REJECTED).exists()

    page.goto("/evolink/videos?review=rejected")
    rejected = page.locator("article.card", has_text=REJECTED)
    expect(rejected.locator(".review-badge")).to_contain_text("Rejected by admin")
    expect(rejected.locator(".review-badge")).to_contain_text("too dark")
    expect(page.locator("article.card", has_text=APPROVED)).to_have_count(0)

    where = {"dag_id": DAG_ID, "run_id": REJECTED, "task_id": "review"}
    for route in ("/evolink/api/review", "/evolink/api/review/poster"):
        assert httpx.get(f"{airflow_ui.base_url}{route}", params=where, timeout=30).status_code == 401
