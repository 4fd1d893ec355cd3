"""
Pytest plugin (loaded by the root conftest): which tests need a real Airflow, and how ``make test`` spreads the suite
over two pytest-xdist workers (``-n 2 --dist loadgroup``) without starting any Airflow twice.

A test needs a real Airflow when it uses one of :data:`REAL_AIRFLOW_FIXTURES` (directly or through another fixture,
e.g. ``airflow_ui``) or carries one of :data:`REAL_AIRFLOW_MARKERS`. Such a test gets

- the ``real_airflow`` marker (``pytest -m "not real_airflow"`` is the unit tier: ``make test-unit``), and
- an ``xdist_group``: :data:`UI_GROUP` when it uses the session's ``airflow_ui`` (the UI tests' Airflow, which one
  worker then starts once), otherwise its module (whose module-scoped Airflow then starts once too).

Every group runs as a whole on one worker. The real-Airflow tests are moved to the front, the UI group first: xdist
hands each worker a group at the start, and while those wait on schedulers and browsers the unit tests fill the other
worker and the gaps. Without xdist the marks change nothing; only the order does.
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


def real_airflow_group(item: pytest.Item) -> str | None:
    """The ``xdist_group`` of ``item`` if it needs a real Airflow, else ``None``."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if not fixtures & REAL_AIRFLOW_FIXTURES and not any(item.get_closest_marker(m) for m in REAL_AIRFLOW_MARKERS):
        return None
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).get("airflow_ui", ())
    if definitions and definitions[-1].scope == "session":  # a module may define an airflow_ui of its own
        return UI_GROUP
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark and group the real-Airflow tests, and move them to the front (the UI group first)."""
    rank: dict[str, int] = {}
    for item in items:
        group = real_airflow_group(item)
        if group is None:
            rank[item.nodeid] = 2
            continue
        item.add_marker(pytest.mark.real_airflow)
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
        rank[item.nodeid] = 0 if group == UI_GROUP else 1
    items.sort(key=lambda item: rank[item.nodeid])  # stable: the collection's order within each rank
