"""
Pytest plugin (loaded by the root conftest): which tests need a real Airflow, and how ``make test`` spreads the suite
over two pytest-xdist workers (``-n 2 --dist loadgroup``) without starting any Airflow twice.

A test needs a real Airflow when it uses one of :data:`REAL_AIRFLOW_FIXTURES` (directly or through another fixture,
e.g. ``airflow_ui``) or carries one of :data:`REAL_AIRFLOW_MARKERS`; such a test gets the ``real_airflow`` marker
(``pytest -m "not real_airflow"`` is the unit tier: ``make test-unit``).

Every test gets an ``xdist_group``, which runs as a whole, in a row, on one worker: :data:`UI_GROUP` for the tests
using the ``browser`` fixture (so the UI tests' Airflow and the browser start once), otherwise its module (whose
module-scoped fixtures, an Airflow or a ``dag.test()`` run, then run once too). The real-Airflow groups are moved to
the front, the browser group first: xdist hands each worker one at the start, and the unit modules fill the workers
after them. Without xdist the marks change nothing; only the order does (and the browser closes after its tests).
"""

from __future__ import annotations

import pytest

#: Fixtures that start, or hand out, a real Airflow or the servers it runs on (tests/airflow_standalone.py,
#: tests/servers.py).
REAL_AIRFLOW_FIXTURES = frozenset({"airflow_standalone", "airflow_database", "airflow_ui", "postgres", "redis_url"})
#: Markers of tests that drive a real Airflow (pyproject.toml).
REAL_AIRFLOW_MARKERS = ("e2e", "browser", "production")
#: The group of every test using the ``browser`` fixture (tests/ui/conftest.py), ``airflow_ui`` and its pages included.
UI_GROUP = "browser"


def needs_real_airflow(item: pytest.Item) -> bool:
    """Whether ``item`` uses a real Airflow (a fixture of :data:`REAL_AIRFLOW_FIXTURES` or a marker of
    :data:`REAL_AIRFLOW_MARKERS`)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & REAL_AIRFLOW_FIXTURES) or any(item.get_closest_marker(m) for m in REAL_AIRFLOW_MARKERS)


def xdist_group_of(item: pytest.Item) -> str:
    """:data:`UI_GROUP` if ``item`` uses the ``browser`` fixture, else its module's path."""
    return UI_GROUP if "browser" in getattr(item, "fixturenames", ()) else item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the real-Airflow tests, group every test, and move the real-Airflow groups to the front (UI first)."""
    grouping = config.pluginmanager.hasplugin("xdist")  # its marker is unknown (--strict-markers) without it
    rank: dict[str, int] = {}
    for item in items:
        group = xdist_group_of(item)
        rank[item.nodeid] = 2
        if needs_real_airflow(item):
            item.add_marker(pytest.mark.real_airflow)
            rank[item.nodeid] = 0 if group == UI_GROUP else 1
        if grouping and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: rank[item.nodeid])  # stable: the collection's order within each rank


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Close the browser (and what uses it) after this process's last browser test in a row.

    Playwright's sync API keeps its event loop marked as running in this thread while it is open: every asyncio test
    after it would fail ("cannot be called from a running event loop"). The browser tests are one group, run in a
    row, so the browser closes once, right after them; a later browser test would open it again.
    """
    if "browser" not in getattr(item, "fixturenames", ()):
        return
    if nextitem is not None and "browser" in getattr(nextitem, "fixturenames", ()):
        return
    for definition in item._fixtureinfo.name2fixturedefs.get("browser", ()):  # type: ignore[attr-defined]
        definition.finish(item._request)  # type: ignore[attr-defined]
