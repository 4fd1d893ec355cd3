"""
A new user's first hour in the Airflow UI, in a real browser: log in, add the EvoLink connection, trigger the
example DAG from its form with the defaults, read what the run left behind.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
expect = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra: `make venv`").expect


def test_the_dags_page_lists_the_example_dags(page: Any) -> None:
    page.goto("/dags")
    for dag_id in ("evolink_reference_to_video", "evolink_motion_control", "evolink_batch"):
        expect(page.get_by_role("link", name=dag_id).first).to_be_visible()
