"""The credits snippet of ``docs/lineage.md``, executed: ``dag.test()`` of ``dags/evolink_credits.py`` against the
emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).parent / "dags"


def _xcom(run: Any, task_id: str, key: str = "return_value") -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, key=key, task_ids=task_id)).all()
        return [XComModel.deserialize_value(row) for row in sorted(rows, key=lambda row: row.map_index)]


def test_the_docs_snippet_totals_a_runs_credits_counting_a_refunded_failure_as_zero(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow import settings
    from airflow.utils.db import initdb
    from airflow_names import DagBag

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(DAGS))
    initdb()
    dagbag = DagBag(dag_folder=str(DAGS))
    assert dagbag.import_errors == {}

    run = dagbag.get_dag("evolink_credits").test()

    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states == {("generate", 0): "success", ("generate", 1): "failed", ("total_credits", -1): "success"}
    completed, failed = _xcom(run, "generate", "evolink_usage")
    assert completed["credits"] == pytest.approx(24.3)  # 8.1 credits/s x 3 s at 720p
    assert (failed["refunded"], failed["credits"], failed["credits_refunded"]) == (True, 0.0, pytest.approx(24.3))
    assert _xcom(run, "total_credits") == [pytest.approx(24.3)]
