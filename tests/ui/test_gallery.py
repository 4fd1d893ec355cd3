"""
The "EvoLink videos" gallery in a real browser: Airflow 3.3 standalone (the provider's plugin loaded), the
reference DAG run by the scheduler and triggerer against the emulator, then Debian Chromium opens the gallery
from the UI's nav, plays the new video, seeks, and saves a screenshot; the save task instance's tab plays the
same video; without a login the stream is 401. (Standalone forces the simple auth manager, which has no per-DAG
rights: a user denied a DAG is tested against the API server app in tests/plugins/test_api.py.)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra: `make venv`").expect

REFERENCE = "evolink_reference_to_video"
PROMPT = "A paper boat drifting down a rainy street, seen in the gallery"
SECONDS = 5
RUN_ID = "gallery_browser_test"
#: Seconds the emulator renders, as in the real-Airflow e2e test.
PROCESSING_SECONDS = 15.0
REPO = Path(__file__).resolve().parents[2]
#: Where the gallery screenshot goes (beside the browser tests' failure artifacts).
SCREENSHOT = Path(os.environ.get("EVOLINK_UI_ARTIFACTS", REPO / "tmp" / "artifacts")) / "gallery.png"


@pytest.fixture(scope="module")
def gallery_emulator() -> Iterator[Any]:
    """The emulator of this module. Its render outlasts the sensor's deferral by several seconds: when a deferred
    task resumes within a second or two, a loaded 2-core machine may deliver the executor's report of the
    deferring try after the resumed try started, and Airflow 3.3.2 then marks the resumed try failed."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=PROCESSING_SECONDS) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def airflow_ui(
    browser: Any,
    airflow_standalone: Callable[..., Any],
    gallery_emulator: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    """This module's standalone: providers' plugins loaded (``lazy_discover_providers = False``, as the README
    says) and one finished run of the reference DAG."""
    home = tmp_path_factory.mktemp("airflow-gallery")
    airflow = airflow_standalone(
        home,
        AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW_CONN_EVOLINK_DEFAULT=json.dumps(
            {"conn_type": "evolink", "host": gallery_emulator.base_url, "password": gallery_emulator.api_key}
        ),
        EVOLINK_POLL_INTERVAL="2",
    )
    conf = {"prompt": PROMPT, "duration": SECONDS, "destination": (home / "videos").as_uri()}
    airflow.wait_for_dag(REFERENCE)
    airflow.api("PATCH", f"/api/v2/dags/{REFERENCE}", json={"is_paused": False}).raise_for_status()
    body = {"dag_run_id": RUN_ID, "logical_date": None, "conf": conf}
    airflow.api("POST", f"/api/v2/dags/{REFERENCE}/dagRuns", json=body).raise_for_status()
    _, state = airflow.wait_for_run(REFERENCE, RUN_ID)
    assert state == "success", f"the run ended {state}: {airflow.task_states(REFERENCE, RUN_ID)}\n{airflow.tail()}"
    return airflow


def current_time(video: Any) -> float:
    return float(video.evaluate("v => v.currentTime"))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_gallery_shows_the_new_video_and_plays_and_seeks_it(page: Any) -> None:
    statuses: list[int] = []
    page.on("response", lambda response: "/files/0/content" in response.url and statuses.append(response.status))
    page.goto("/")
    page.get_by_role("link", name="EvoLink videos").first.click()
    gallery = page.frame_locator("iframe").first

    card = gallery.locator("article.card", has_text=PROMPT)
    expect(card).to_be_visible()
    expect(card).to_contain_text("kling-o3-reference-to-video")
    expect(card).to_contain_text(f"{SECONDS} s")
    expect(card).to_contain_text("credits")
    poster = card.locator("img")
    expect(poster).to_be_visible()
    # The first request makes the poster (PyAV), later ones read the cache.
    wait_until(lambda: poster.evaluate("img => img.complete && img.naturalWidth > 0"), "the poster frame")

    expect(gallery.locator("#player")).to_be_hidden()
    card.locator("button.thumb").click()
    video = gallery.locator("#video")
    expect(gallery.locator("#player-prompt")).to_have_text(PROMPT)
    wait_until(lambda: current_time(video) > 0.5, "the video to play")
    target = SECONDS - 1.5
    seeked = video.evaluate(
        "(v, t) => new Promise(done => { v.addEventListener('seeked', () => done(v.currentTime), {once: true});"
        " v.currentTime = t; })",
        target,
    )
    assert seeked == pytest.approx(target, abs=0.5)
    wait_until(lambda: current_time(video) > seeked + 0.3, "playback to go on after the seek")
    assert 206 in statuses  # the browser read byte ranges
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)

    # The page follows the UI's theme switch (next-themes marks <html> with "light" or "dark").
    root = gallery.locator("html")
    expect(root).not_to_have_class("dark")
    page.evaluate("document.documentElement.classList.remove('light'); document.documentElement.classList.add('dark')")
    expect(root).to_have_class("dark")
    page.screenshot(path=SCREENSHOT.with_name("gallery-dark.png"))


def test_the_save_task_instance_tab_plays_its_video_and_no_login_gets_401(page: Any, airflow_ui: Any) -> None:
    page.goto(f"/dags/{REFERENCE}/runs/{RUN_ID}/tasks/save")
    # The task instance's tab, not the nav menu's item of the same name (the tabs render after the page).
    page.locator("a[href$='/plugin/evolink-task-videos']").click()
    tab = page.frame_locator("iframe").first

    expect(tab.locator("#title")).to_have_text("EvoLink videos of this task instance")
    expect(tab.locator("article.card")).to_have_count(1)
    expect(tab.locator("#player-prompt")).to_have_text(PROMPT)  # its only video opens in the player
    wait_until(lambda: tab.locator("#video").evaluate("v => v.readyState") >= 1, "the video's metadata")

    [video] = airflow_ui.api("GET", "/evolink/api/videos", params={"dag_id": REFERENCE}).json()["videos"]
    for what in ("stream", "poster"):
        assert httpx.get(f"{airflow_ui.base_url}/evolink/api/{video[what]}", timeout=30).status_code == 401
    assert httpx.get(f"{airflow_ui.base_url}/evolink/videos", timeout=30).status_code == 401
