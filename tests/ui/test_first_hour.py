"""
A new user's first hour in the Airflow UI, in a real browser (headless Chromium) against ``airflow standalone`` and
the emulator: log in, add the EvoLink connection in the Add Connection form, trigger the example DAGs from their
Trigger forms with the defaults, then read what the runs left behind (the save task's log, the XCom pages, the names
of mapped instances) and play the stored video in the save task's "EvoLink videos" tab. Plus the form's refusals, the
REST connection test and the providers page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import av
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra: `make venv`").expect

REFERENCE = "evolink_reference_to_video"
SEEDANCE = "evolink_seedance_text_to_video"
EXAMPLE_DAGS = (REFERENCE, "evolink_motion_control", "evolink_batch", SEEDANCE)
#: Where the example DAGs store videos by default (their ``destination`` param).
DEFAULT_DESTINATION = Path("/tmp/evolink_videos")
#: What a signed result link carries in its query string.
SIGNED = re.compile(r"[?&](?:sig|expires)=")
#: Seconds for one example run on a loaded 2-core machine (idle: under a minute).
RUNS_TIMEOUT = 480.0


def _open_trigger_form(page: Any, dag_id: str) -> Any:
    page.goto(f"/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    expect(form.get_by_text("Run Parameters")).to_be_visible()
    return form


def _trigger_with_defaults(page: Any, dag_id: str) -> str:
    """Press Trigger in the DAG's form without touching a field; the run ID the API server created."""
    form = _open_trigger_form(page, dag_id)
    expect(form.get_by_text("This field is required")).to_have_count(0)
    button = form.get_by_role("button", name="Trigger")
    expect(button).to_be_enabled()
    return _press_trigger(page, button, dag_id)


def _press_trigger(page: Any, button: Any, dag_id: str) -> str:
    with page.expect_response(lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST") as answer:
        button.click()
    assert answer.value.status == 200, f"{dag_id}: {answer.value.status} {answer.value.text()}"
    return str(answer.value.json()["dag_run_id"])


def _add_connection(page: Any, conn_id: str, host: str, api_key: str, files_url: str) -> None:
    page.goto("/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.locator("input[name=connection_id]").fill(conn_id)
    form.get_by_role("combobox").fill("EvoLink")
    page.keyboard.press("Enter")
    form.locator("input[name=host]").fill(host)  # labelled "Base URL"
    form.locator("input[name=password]").fill(api_key)  # labelled "API Key"
    # The emulator's files API (where the motion-control DAG uploads its local sample video) has its own port.
    form.get_by_role("button", name="Extra Fields", exact=True).click()
    form.locator("#element_files_base_url").fill(files_url)  # labelled "Files API URL"
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text=conn_id)).to_contain_text(host)


def _task_page(dag_id: str, run_id: str, task_id: str, tab: str = "") -> str:
    return f"/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}" + (f"/{tab}" if tab else "")


def _play_in_the_task_instance_tab(page: Any, task_page: str) -> None:
    """Open the task instance's "EvoLink videos" tab and check that its one video plays (muted, which needs no user
    gesture) past 0.5 s."""
    page.goto(task_page)
    # The task instance's tab, not the nav entry of the same name (the tabs render after the page).
    page.locator("a[href$='/plugin/evolink-task-videos']").click()
    tab = page.frame_locator("iframe").first
    expect(tab.locator("#title")).to_have_text("EvoLink videos of this task instance")
    expect(tab.locator("article.card")).to_have_count(1)
    expect(tab.locator("#player")).to_be_visible()
    played = tab.locator("#video").evaluate(
        """v => new Promise((done, fail) => {
             setTimeout(() => fail(new Error(`stuck at ${v.currentTime} s, readyState ${v.readyState}`)), 60000);
             v.addEventListener("timeupdate", () => { if (v.currentTime > 0.5) done(v.currentTime); });
             v.muted = true;
             v.play().catch(fail);
           })"""
    )
    assert played > 0.5


def _assert_no_signed_link(page: Any, url: str, what: str) -> str:
    """Open ``url`` and check that neither the page nor the XCom data behind it holds a signed link."""
    answers: list[str] = []

    def record(response: Any) -> None:
        if "xcom" in response.url.lower() and response.ok:
            answers.append(response.text())

    page.on("response", record)
    try:
        page.goto(url)
        expect(page.get_by_role("row").filter(has_text="return_value").first).to_be_visible()
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", record)
    shown = page.inner_text("body")
    assert answers, f"{what}: the page loaded no XCom data"
    for text, where in ((shown, "the page"), (page.content(), "the page's HTML"), ("\n".join(answers), "the API")):
        assert not SIGNED.search(text), f"{what}: {where} shows a signed link"
    return shown


def test_a_new_users_first_hour(page: Any, airflow_ui: Any, ui_emulator: Any) -> None:
    # Another browser test may have created the connection: the form must create it anew.
    airflow_ui.api("DELETE", "/api/v2/connections/evolink_default")
    _add_connection(page, "evolink_default", ui_emulator.base_url, ui_emulator.api_key, ui_emulator.files_base_url)

    runs: dict[str, str] = {}
    try:
        # Each form sends its DAG's unpause together with the new run, and the three runs go on at once: on
        # PostgreSQL those writes do not queue behind one database-wide lock as they did on SQLite.
        for dag_id in EXAMPLE_DAGS:
            runs[dag_id] = _trigger_with_defaults(page, dag_id)
        for dag_id, run_id in runs.items():
            _, state = airflow_ui.wait_for_run(dag_id, run_id, timeout=RUNS_TIMEOUT)
            assert state == "success", f"{dag_id} {run_id}: {airflow_ui.task_states(dag_id, run_id)}"

        # The save task's log names the stored file, and the file is there.
        run_id = runs[REFERENCE]
        page.goto(_task_page(REFERENCE, run_id, "save"))
        stored = page.get_by_text(re.compile(r"Stored result 1 of 1 of EvoLink task .* at file://\S+\.mp4"))
        expect(stored).to_be_visible()
        uri = re.search(r"file://(\S+\.mp4)", stored.inner_text())
        assert uri is not None
        assert Path(uri.group(1)).parent == DEFAULT_DESTINATION / run_id
        assert Path(uri.group(1)).stat().st_size > 0

        # The save task's "EvoLink videos" tab plays the video, though the UI-made run ID carries a "+" (which
        # Airflow 3.1's UI puts raw into the tab's URL).
        assert "+" in run_id
        _play_in_the_task_instance_tab(page, _task_page(REFERENCE, run_id, "save"))

        # No XCom page shows a signed result link: not the tasks' XCom tabs, not Browse → XComs.
        for task_id in ("build_request", "generate", "wait", "save"):
            _assert_no_signed_link(page, _task_page(REFERENCE, run_id, task_id, "xcom"), f"{task_id}'s XCom tab")
        _assert_no_signed_link(page, "/xcoms", "Browse → XComs")

        # Seedance's defaults: 5 s of 720p with its sound track.
        (seedance,) = (DEFAULT_DESTINATION / runs[SEEDANCE]).rglob("*.mp4")
        with av.open(str(seedance)) as container:
            assert [stream.type for stream in container.streams] == ["video", "audio"]
            assert (container.duration or 0) / av.time_base == pytest.approx(5, abs=0.25)

        # The batch's mapped instances are named by their prompts.
        page.goto(_task_page("evolink_batch", runs["evolink_batch"], "generate", "mapped"))
        for prompt in ("A lighthouse at dawn, slow dolly in", "A fox in fresh snow, close-up", "Neon rain on a"):
            expect(page.get_by_text(prompt).first).to_be_visible()
    finally:
        for run_id in runs.values():
            shutil.rmtree(DEFAULT_DESTINATION / run_id, ignore_errors=True)


def test_the_trigger_form_refuses_an_out_of_range_duration_and_a_cleared_choice(page: Any, airflow_ui: Any) -> None:
    form = _open_trigger_form(page, REFERENCE)
    duration = form.locator("input[name=element_duration]")
    duration.fill("99")
    duration.press("Tab")
    expect(duration).to_have_value("99")  # not clamped to 10 behind the user's back

    with page.expect_response(lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST") as answer:
        form.get_by_role("button", name="Trigger").click()
    assert answer.value.status == 400
    expect(form.get_by_text("99 is greater than the maximum of 10")).to_be_visible()

    # The choice's clear button: Airflow 3.3's select, or 3.1's (its own id and label).
    clear = "#element_aspect_ratio button[aria-label='Clear selected options'], [id='select:element_aspect_ratio'] "
    form.locator(clear + "button[aria-label='Clear value']").click(force=True)
    expect(form.get_by_text("This field is required")).to_be_visible()
    expect(form.get_by_role("button", name="Trigger")).to_be_disabled()


def test_the_rest_connection_test_shows_the_hooks_message(airflow_ui: Any, ui_emulator: Any) -> None:
    body = {"connection_id": "evolink_rest", "conn_type": "evolink", "host": ui_emulator.base_url}

    good = airflow_ui.api("POST", "/api/v2/connections/test", json={**body, "password": ui_emulator.api_key})
    typo = airflow_ui.api(
        "POST",
        "/api/v2/connections/test",
        json={**body, "password": ui_emulator.api_key, "extra": '{"timeout": -5}'},
    )

    assert good.json()["status"] is True
    # The balance depends on what the other tests of the session spent.
    assert re.fullmatch(
        rf"Connected to EvoLink at {ui_emulator.base_url}: [\d,.]+ credits remaining", good.json()["message"]
    )
    assert typo.json()["status"] is False
    assert typo.json()["message"].endswith("extra 'timeout' must be a number of seconds > 0, got -5.0")


def test_the_providers_page_shows_the_description_as_written(page: Any) -> None:
    page.goto("/providers")
    row = page.get_by_role("row").filter(has_text="airflow-provider-evolink")
    expect(row).to_contain_text("EvoLink AI video generation (Kling O3, Kling V3 motion control and more)")
    expect(row.get_by_role("link", name="https://evolink.ai")).to_have_attribute("href", "https://evolink.ai")
    package = row.get_by_role("link", name="airflow-provider-evolink")
    # Airflow 3.1's UI keeps the space after the comma of the metadata's "Documentation, <url>" (browsers ignore it).
    expect(package).to_have_attribute("href", re.compile(rf"^ ?{re.escape(_documentation_url())}$"))


def _documentation_url() -> str:
    """The ``Documentation`` project URL of the installed distribution, which Airflow links the package name to."""
    from importlib.metadata import metadata

    urls = dict(entry.split(", ", 1) for entry in metadata("airflow-provider-evolink").get_all("Project-URL") or [])
    return urls["Documentation"]
