"""The README's ten-line DAG names no ``outlets``, and its video is in the gallery and in its save task's tab."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import GalleryRuns
from .test_api import list_videos

README = Path(__file__).resolve().parents[2] / "README.md"
DAG_ID = "make_a_video"


def _readme_dag(destination: str) -> str:
    """The README's "A DAG in ten lines", storing into ``destination`` instead of its S3 bucket."""
    section = README.read_text().split("## A DAG in ten lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    source = code.group(1)
    assert "outlets" not in source
    return source.replace("s3://my-bucket/", destination.rstrip("/") + "/")


@pytest.fixture(scope="module")
def readme_run(api_client: Any, gallery_runs: GalleryRuns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One run of the README's DAG under ``dag.test()`` (emulator, local folder); its Asset events removed after."""
    from airflow import settings
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from airflow_names import DagBag
    from sqlalchemy import delete

    dags_folder = tmp_path_factory.mktemp("readme-dag")
    (dags_folder / "make_a_video.py").write_text(_readme_dag(tmp_path_factory.mktemp("readme-videos").as_uri()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags_folder))
        patch.setattr(settings, "DAGS_FOLDER", str(dags_folder))
        run = DagBag(dag_folder=str(dags_folder)).dags[DAG_ID].test()
    assert run.state == "success"
    yield run
    with create_session() as session:
        session.execute(delete(AssetEvent).where(AssetEvent.source_dag_id == DAG_ID))


def test_the_readme_dags_video_is_in_the_gallery_and_its_tab(
    api_client: Any, admin: dict[str, str], readme_run: Any
) -> None:
    gallery = list_videos(api_client, admin, dag_id=DAG_ID)
    tab = list_videos(api_client, admin, dag_id=DAG_ID, run_id=readme_run.run_id, task_id="save", map_index=-1)

    assert [(video["run_id"], video["model"]) for video in gallery["videos"]] == [
        (readme_run.run_id, "kling-o3-reference-to-video")
    ]
    assert tab["videos"] == gallery["videos"]
    assert gallery["videos"][0]["asset"] == "evolink_videos"
