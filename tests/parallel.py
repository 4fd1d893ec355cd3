"""
Pytest plugin (loaded by the root conftest): which tests need a real Airflow, and how ``make test`` spreads the suite
over two pytest-xdist workers (``-n 2 --dist loadgroup``) without starting any Airflow twice.

A test needs a real Airflow when it uses one of :data:`REAL_AIRFLOW_FIXTURES` (directly or through another fixture,
e.g. ``airflow_ui``) or carries one of :data:`REAL_AIRFLOW_MARKERS`; such a test gets the ``real_airflow`` marker
(``pytest -m "not real_airflow"`` is the unit tier: ``make test-unit``).

Every test gets an ``xdist_group``, which runs as a whole on one worker: :data:`UI_GROUP` for the tests using the
session's ``airflow_ui`` (the UI tests' Airflow, which one worker then starts once), otherwise its module (whose
module-scoped fixtures, an Airflow or a ``dag.test()`` run, then run once too). The real-Airflow groups are moved to
the front, the UI group first: xdist hands each worker one at the start, and while those wait on schedulers and
browsers the unit modules fill the other worker and the gaps. Without xdist the marks change nothing; only the order
does.
"""

from __future__ import annotations

import pytest

#: Fixtures that start, or hand out, a real Airflow or the servers it runs on (tests/airflow_standalone.py,
#: tests/servers.py).
REAL_AIRFLOW_FIXTURES = frozenset({"airflow_standalone", "airflow_database", "airflow_ui", "postgres", "redis_url"})
#: Markers of tests that drive a real Airflow (pyproject.toml).
REAL_AIRFLOW_MARKERS = ("e2e", "browser", "production")
#: The group of every test using the ``airflow_ui`` fixture (tests/ui/conftest.py).
UI_GROUP = "airflow_ui"


def needs_real_airflow(item: pytest.Item) -> bool:
    """Whether ``item`` uses a real Airflow (a fixture of :data:`REAL_AIRFLOW_FIXTURES` or a marker of
    :data:`REAL_AIRFLOW_MARKERS`)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & REAL_AIRFLOW_FIXTURES) or any(item.get_closest_marker(m) for m in REAL_AIRFLOW_MARKERS)


def xdist_group_of(item: pytest.Item) -> str:
    """:data:`UI_GROUP` if ``item`` uses the session's ``airflow_ui``, else its module's path."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).get("airflow_ui", ())
    if definitions and definitions[-1].scope == "session":  # a module may define an airflow_ui of its own
        return UI_GROUP
    return item.nodeid.split("::", 1)[0]


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
