"""
Pytest plugin (loaded by the root conftest): which tests need a real Airflow, and how ``make test`` spreads the suite
over two pytest-xdist workers (``-n 2 --dist loadscope``) without starting any Airflow twice.

A test needs a real Airflow when it uses one of :data:`REAL_AIRFLOW_FIXTURES` (directly or through another fixture,
e.g. ``airflow_ui``) or carries one of :data:`REAL_AIRFLOW_MARKERS`; such a test gets the ``real_airflow`` marker
(``pytest -m "not real_airflow"`` is the unit tier: ``make test-unit``), and the real-Airflow tests run first, the
browser tests (:data:`UI_FOLDER`) before the others: xdist hands each worker one unit of work at the start, and the
unit tests fill the workers after them.

A unit of work runs whole, in a row, on one worker (:class:`OneUiScheduling`): a test module (so its module-scoped
fixtures, an Airflow or a ``dag.test()`` run, are made once), and each folder of :data:`PACKAGE_UNITS`: the whole of
:data:`UI_FOLDER` (so the UI tests' Airflow, ``airflow_ui``, and the browser start once) and the gallery's tests (so
their ``dag.test()`` runs are made once). The browser closes after its last test, because Playwright's
sync API leaves an event loop running that the asyncio tests after it would trip on.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Fixtures that start, or hand out, a real Airflow or the servers it runs on (tests/airflow_standalone.py,
#: tests/servers.py).
REAL_AIRFLOW_FIXTURES = frozenset({"airflow_standalone", "airflow_database", "airflow_ui", "postgres", "redis_url"})
#: Markers of tests that drive a real Airflow (pyproject.toml).
REAL_AIRFLOW_MARKERS = ("e2e", "browser", "production")
#: The browser tests' folder (tests/ui/conftest.py: ``browser``, ``airflow_ui``): one unit of work.
UI_FOLDER = "tests/ui/"
#: Folders whose package-scoped fixtures run whole DAGs (tests/plugins/conftest.py: ``gallery_runs``): each is one
#: unit of work, so that the fixtures run once, not once per worker; they go to the workers before the unit tests.
PACKAGE_UNITS = (UI_FOLDER, "tests/plugins/")


def needs_real_airflow(item: pytest.Item) -> bool:
    """Whether ``item`` uses a real Airflow (a fixture of :data:`REAL_AIRFLOW_FIXTURES` or a marker of
    :data:`REAL_AIRFLOW_MARKERS`)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & REAL_AIRFLOW_FIXTURES) or any(item.get_closest_marker(m) for m in REAL_AIRFLOW_MARKERS)


def work_unit(nodeid: str) -> str:
    """The unit of work of a test: its folder of :data:`PACKAGE_UNITS`, else its module's path."""
    folder = next((folder for folder in PACKAGE_UNITS if nodeid.startswith(folder)), None)
    return folder or nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the real-Airflow tests and move them to the front, the browser tests first, then the other folders of
    :data:`PACKAGE_UNITS`."""
    rank: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        rank[item.nodeid] = 2 if unit in PACKAGE_UNITS else 3
        if needs_real_airflow(item):
            item.add_marker(pytest.mark.real_airflow)
            rank[item.nodeid] = 0 if unit == UI_FOLDER else 1
    items.sort(key=lambda item: rank[item.nodeid])  # stable: the collection's order within each rank


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist installed the suite runs in one process
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with :func:`work_unit` as the scope (xdist's own is the module or class)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneUiScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return OneUiScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Close the browser (and what uses it) after this process's last browser test in a row.

    Playwright's sync API keeps its event loop marked as running in this thread while it is open: every asyncio test
    after it would fail ("cannot be called from a running event loop"). The browser tests run in a row (one unit of
    work), so the browser closes once, right after them; a later browser test would open it again.
    """
    if "browser" not in getattr(item, "fixturenames", ()):
        return
    if nextitem is not None and "browser" in getattr(nextitem, "fixturenames", ()):
        return
    for definition in item._fixtureinfo.name2fixturedefs.get("browser", ()):  # type: ignore[attr-defined]
        definition.finish(item._request)  # type: ignore[attr-defined]
