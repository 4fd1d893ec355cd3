"""
Browser tests: Playwright (Python) driving Debian's Chromium against ``airflow standalone`` (on the session's
PostgreSQL) + the emulator.

Session fixtures: ``ui_emulator`` (an EvoLink emulator paced for a UI run), ``airflow_ui`` (standalone in a temporary
``AIRFLOW_HOME`` on free ports, the example DAGs serialized, no EvoLink connection defined: tests create what they
need) and ``browser`` (one headless Chromium). Per test: ``login(user="admin")`` opens a logged-in page in a fresh
browser context, ``page`` is the admin's. When a test fails, a screenshot of every page it opened, the page's
HTML and standalone's log are saved under ``tmp/artifacts/<test>/`` (``EVOLINK_UI_ARTIFACTS`` moves it), and the
failure report lists them.

Chromium comes from Debian (``apt-get install chromium``; ``make test`` installs it when it runs as root), never
from ``playwright install``. Without it the browser tests are skipped with the reason; with
``EVOLINK_REQUIRE_BROWSER=1`` (set by CI) they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("EVOLINK_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("EVOLINK_UI_ARTIFACTS", REPO / "tmp" / "artifacts"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Seconds the emulator "renders" a video: the sensor really defers, and a deferred task does not resume within a
#: second or two (on a loaded machine Airflow 3.3.2 may then process the deferring try's exit after the resumed try
#: started and send the resumed try to up_for_retry); still short for a UI run.
UI_PROCESSING_SECONDS = 8.0
#: The example DAGs, which the UI tests may open.
EXAMPLE_DAG_IDS = ("evolink_reference_to_video", "evolink_motion_control", "evolink_batch")
#: Milliseconds Playwright (actions and ``expect``) waits for an element: the UI is slow on a busy 2-core machine.
UI_TIMEOUT_MS = 60_000

_PAGES = pytest.StashKey[list[Any]]()
_AIRFLOW = pytest.StashKey[Any]()


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install chromium`; `make test` does it when "
            "run as root)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: `make venv` installs the dev extra"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session (Playwright), or a skip saying why not."""
    if (reason := _browser_missing()) is not None:
        if os.environ.get("EVOLINK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"EVOLINK_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # expect() has its own 5 s default, too short on a busy machine
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def ui_emulator() -> Iterator[Any]:
    """The EvoLink emulator the UI runs talk to (tasks complete after :data:`UI_PROCESSING_SECONDS`)."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=UI_PROCESSING_SECONDS) as emu:
        yield emu


@pytest.fixture(scope="session")
def airflow_ui(browser: Any, airflow_standalone: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``airflow standalone`` with the simple auth manager (user ``admin``), the connection Test button enabled,
    the example DAGs serialized, and EvoLink polled every 2 s. No EvoLink connection exists yet."""
    airflow = airflow_standalone(
        tmp_path_factory.mktemp("airflow-ui"),
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        EVOLINK_POLL_INTERVAL="2",
    )
    for dag_id in EXAMPLE_DAG_IDS:
        airflow.wait_for_dag(dag_id)
    return airflow


@pytest.fixture
def login(browser: Any, airflow_ui: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``login(user="admin", password=None) -> Page``: a fresh browser context logged in through the login form
    (``password`` defaults to the simple auth manager's generated one), on the UI's home page."""
    request.node.stash[_PAGES] = pages = []
    request.node.stash[_AIRFLOW] = airflow_ui
    contexts: list[Any] = []

    def log_in(user: str = "admin", password: str | None = None) -> Any:
        context = browser.new_context(base_url=airflow_ui.base_url, viewport={"width": 1440, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        page.goto("/")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password if password is not None else airflow_ui.password(user))
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/auth/" not in url and "/login" not in url)
        return page

    yield log_in
    for context in contexts:
        context.close()


@pytest.fixture
def page(login: Callable[..., Any]) -> Any:
    """A page logged in as ``admin``."""
    return login()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """On a failed browser test: save screenshots, HTML and standalone's log, and name them in the report."""
    report = yield
    if report.failed and report.when in ("setup", "call") and item.stash.get(_PAGES, None):
        report.sections.append(("browser artifacts", _save_artifacts(item)))
    return report


def _save_artifacts(item: pytest.Item) -> str:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for number, page in enumerate(item.stash[_PAGES], start=1):
        try:
            page.screenshot(path=folder / f"page{number}.png", full_page=True)
            (folder / f"page{number}.html").write_text(page.content())
            saved.append(f"page {number} ({page.url}): {folder / f'page{number}.png'}")
        except Exception as error:  # a crashed page must not hide the test's own failure
            saved.append(f"page {number}: no screenshot ({type(error).__name__}: {error})")
    if (airflow := item.stash.get(_AIRFLOW, None)) is not None and airflow.log.exists():
        shutil.copy(airflow.log, folder / "standalone.log")
        saved.append(f"standalone log: {folder / 'standalone.log'}")
    return "\n".join(saved)
