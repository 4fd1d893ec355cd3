"""
The gallery against real Asset events: the example DAGs run under ``dag.test()`` (emulator, local folder and
moto's S3), then Airflow's own API server app (``create_app``) serves the plugin, with the provider's plugins
loaded as the API server loads them (``[core] lazy_discover_providers = False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
REFERENCE = "evolink_reference_to_video"
MOTION = "evolink_motion_control"
BATCH = "evolink_batch"
BATCH_PROMPTS = ["a lighthouse at dawn", "a fox in fresh snow"]
PROMPT = "A paper boat drifting down a rainy street, gallery test"


@dataclass(frozen=True)
class GalleryRuns:
    """The DAG runs whose videos the gallery shows, oldest first."""

    local: Any  # reference DAG, 3 s, stored in a local folder
    s3: Any  # reference DAG, stored on moto's S3
    motion: Any  # motion-control DAG (denied to "viewer"), local folder
    batch: Any  # batch DAG: two mapped save task instances, local folder
    folder: Path


@pytest.fixture(scope="package")
def gallery_runs(emulator: Any, s3_bucket: str, tmp_path_factory: pytest.TempPathFactory) -> GalleryRuns:
    from airflow import settings
    from airflow.models.asset import AssetEvent
    from airflow.utils.db import initdb
    from airflow.utils.session import create_session
    from airflow_names import DagBag
    from sqlalchemy import delete

    folder = tmp_path_factory.mktemp("gallery-videos")
    with pytest.MonkeyPatch.context() as patch:
        initdb()
        # The session's database is shared: other test packages (lineage, example DAGs) record Asset events too,
        # and the counts below are exact.
        with create_session() as session:
            session.execute(delete(AssetEvent))
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        patch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        dags = DagBag(dag_folder=str(EXAMPLE_DAGS)).dags
        local = dags[REFERENCE].test(run_conf={"prompt": PROMPT, "duration": 3, "destination": folder.as_uri()})
        s3 = dags[REFERENCE].test(
            run_conf={"prompt": "stored on S3", "duration": 3, "destination": f"s3://aws_moto@{s3_bucket}/gallery"}
        )
        motion = dags[MOTION].test(run_conf={"destination": folder.as_uri()})
        batch = dags[BATCH].test(run_conf={"prompt": BATCH_PROMPTS, "duration": 3, "destination": folder.as_uri()})
    assert [run.state for run in (local, s3, motion, batch)] == ["success"] * 4
    return GalleryRuns(local, s3, motion, batch, folder)


@pytest.fixture(scope="package")
def poster_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("poster-cache")


@pytest.fixture(scope="package")
def api_client(gallery_runs: GalleryRuns, poster_cache: Path) -> Iterator[Any]:
    """A ``TestClient`` of Airflow's API server app with the plugin loaded and :class:`DenyingAuthManager`."""
    from airflow import settings
    from airflow_names import reset_plugins
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "plugins.auth_manager.DenyingAuthManager")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
        patch.setenv("AIRFLOW__EVOLINK__GALLERY_CACHE_FOLDER", str(poster_cache))
        patch.setattr(settings, "LAZY_LOAD_PROVIDERS", False)
        reset_plugins()
        from airflow.api_fastapi.app import create_app

        with TestClient(create_app(apps="core")) as client:
            yield client
        reset_plugins()


def _token(username: str, role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture(scope="package")
def admin(api_client: Any) -> dict[str, str]:
    """Headers of an admin (sees every DAG)."""
    return {"Authorization": f"Bearer {_token('admin', 'admin')}"}


@pytest.fixture(scope="package")
def viewer(api_client: Any) -> dict[str, str]:
    """Headers of a viewer whom the auth manager denies ``evolink_motion_control``."""
    return {"Authorization": f"Bearer {_token('viewer', 'viewer')}"}
