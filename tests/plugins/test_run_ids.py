"""
The task-instance tab finds its videos whatever the run ID: the API route with run IDs that carry ``+``, ``:``,
spaces and non-ASCII letters (as the page sends them: encoded), and the page's own reading of the URL the Airflow UI
builds for the tab (3.1 puts the raw run ID in it, 3.3 an encoded one; an unmapped task keeps ``{MAP_INDEX}``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import REFERENCE, GalleryRuns
from .test_api import list_videos

ODD_RUN_IDS = ("manual__2026-12-07T23:01:02.301348+00:00", "a run: with spaces", "überprüfung+été ✓")


def _copy_row(session: Any, model: Any, where: Any, **changes: Any) -> None:
    """Insert a copy of ``model``'s row matching ``where`` with ``changes`` (its ``id`` left to the database)."""
    from sqlalchemy import insert, select

    table = model.__table__
    row = dict(session.execute(select(table).where(where)).mappings().one())
    if "id" not in changes:
        row.pop("id")
    session.execute(insert(table).values({**row, **changes}))


@pytest.fixture(scope="module")
def odd_runs(api_client: Any, gallery_runs: GalleryRuns) -> Iterator[tuple[str, ...]]:
    """Copies of the local run (DAG run, save task instance, Asset event) under :data:`ODD_RUN_IDS`; removed after."""
    from airflow.models.asset import AssetEvent
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import and_, delete

    source = gallery_runs.local.run_id
    with create_session() as session:
        for run_id in ODD_RUN_IDS:
            _copy_row(
                session,
                DagRun,
                and_(DagRun.dag_id == REFERENCE, DagRun.run_id == source),
                run_id=run_id,
                logical_date=None,
            )
            ti = and_(TaskInstance.dag_id == REFERENCE, TaskInstance.run_id == source, TaskInstance.task_id == "save")
            # The id column holds a UUID from Airflow 3.2, a string of one on 3.1.
            new_id = TaskInstance.__table__.c.id.type.python_type(str(uuid.uuid4()))
            _copy_row(session, TaskInstance, ti, run_id=run_id, id=new_id)
            event = and_(
                AssetEvent.source_dag_id == REFERENCE,
                AssetEvent.source_run_id == source,
                AssetEvent.source_task_id == "save",
            )
            _copy_row(session, AssetEvent, event, source_run_id=run_id)
    yield ODD_RUN_IDS
    with create_session() as session:
        session.execute(delete(AssetEvent).where(AssetEvent.source_run_id.in_(ODD_RUN_IDS)))
        session.execute(delete(TaskInstance).where(TaskInstance.run_id.in_(ODD_RUN_IDS)))
        session.execute(delete(DagRun).where(DagRun.run_id.in_(ODD_RUN_IDS)))


@pytest.mark.parametrize("run_id", ODD_RUN_IDS)
def test_the_task_instance_filter_finds_a_run_whose_id_has_plus_colon_space_or_unicode(
    api_client: Any, admin: dict[str, str], odd_runs: tuple[str, ...], run_id: str
) -> None:
    tab = list_videos(api_client, admin, dag_id=REFERENCE, run_id=run_id, task_id="save", map_index=-1)

    assert [video["run_id"] for video in tab["videos"]] == [run_id]
    # The same run ID with its "+" read as a space (URLSearchParams' reading of a raw "+") finds nothing.
    if "+" in run_id:
        wrong = run_id.replace("+", " ")
        assert list_videos(api_client, admin, dag_id=REFERENCE, run_id=wrong, task_id="save")["total_entries"] == 0


def _page_reads(search: str) -> dict[str, str]:
    """What ``gallery.js`` makes of its URL's query: its ``taskInstance`` filter, evaluated by Node."""
    script = resources.files("airflow_provider_evolink.plugins").joinpath("static/gallery.js").read_text()
    runner = (
        "const vm = require('vm');"
        "const context = {window: {location: {search: process.argv.at(-1), pathname: '/evolink/videos'}},"
        " document: {addEventListener() {}}, URLSearchParams, decodeURIComponent};"
        "vm.createContext(context);"
        "const page = require('fs').readFileSync(0, 'utf8');"
        "console.log(vm.runInContext(page + ';JSON.stringify(taskInstance)', context));"
    )
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run([node, "-e", runner, search], input=script, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the page's script; it is not installed")
@pytest.mark.parametrize("run_id", ODD_RUN_IDS)
@pytest.mark.parametrize(
    ("encode", "map_index", "expected_map_index"),
    [
        (
            lambda run_id: run_id,
            "{MAP_INDEX}",
            "-1",
        ),  # Airflow 3.1: the raw run ID (the browser encodes spaces and UTF-8)
        (lambda run_id: quote(run_id, safe=""), "{MAP_INDEX}", "-1"),  # Airflow 3.3: encodeURIComponent
        (lambda run_id: quote(run_id, safe=""), "2", "2"),  # a mapped task instance
        (lambda run_id: quote(run_id, safe=""), "", "-1"),
    ],
)
def test_the_page_reads_the_run_id_and_map_index_the_ui_puts_in_the_tabs_url(
    run_id: str, encode: Any, map_index: str, expected_map_index: str
) -> None:
    browser_sent = quote(encode(run_id), safe="+:%")  # what a browser does to spaces and non-ASCII letters
    search = f"?dag_id={REFERENCE}&run_id={browser_sent}&task_id=save&map_index={map_index}"

    assert _page_reads(search) == {
        "dag_id": REFERENCE,
        "run_id": run_id,
        "task_id": "save",
        "map_index": expected_map_index,
    }
