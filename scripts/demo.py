"""
``make demo``: run ``example_dags/evolink_reference_to_video`` end to end and show the video it saved.

By default everything is local: the EvoLink emulator serves on a free loopback port inside this process, Airflow
uses a throw-away ``AIRFLOW_HOME`` with SQLite, and the DAG runs with ``dag.test()`` (its deferrable sensor's
trigger runs inline). The saved MP4 is read back with PyAV and its path, size, duration and resolution printed.

With ``EVOLINK_API_KEY`` set, the same DAG targets the real API instead (no emulator; this spends credits).
Then ``EVOLINK_VIDEO_URL`` must name a public reference video; ``EVOLINK_BASE_URL`` overrides the API host.

Environment (all optional):
    EVOLINK_API_KEY            real API key: use api.evolink.ai instead of the emulator
    EVOLINK_BASE_URL           API host for the real run (default https://api.evolink.ai)
    EVOLINK_VIDEO_URL          public reference video (required for the real run)
    EVOLINK_DEMO_DESTINATION   folder URI for the video (default file://<tmp>/evolink-demo-videos)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "evolink_reference_to_video"
#: Emulator settings: a few seconds of "rendering", so the sensor really waits, and a quick poll.
EMULATOR_PROCESSING_SECONDS = 3.0
EMULATOR_POLL_SECONDS = "1"
_QUIET_LOGGERS = (
    "alembic",
    "airflow.api_fastapi",
    "airflow.dag_processing",
    "airflow.models",
    "airflow.serialization",
    "airflow.utils.db",
    "py.warnings",
    "task",
)


def main() -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party deprecations are not news here
    api_key = os.environ.get("EVOLINK_API_KEY", "").strip()
    conf: dict[str, object] = {"destination": _destination()}
    if api_key:
        video_url = os.environ.get("EVOLINK_VIDEO_URL", "").strip()
        if not video_url:
            print(
                "EVOLINK_API_KEY is set, so this demo targets the real EvoLink API, which needs a public reference\n"
                "video: set EVOLINK_VIDEO_URL=https://... (3-10 s MP4) and run again. Nothing was submitted.",
                file=sys.stderr,
            )
            return 2
        conf["video_url"] = video_url

    with tempfile.TemporaryDirectory(prefix="evolink-demo-") as home:
        _configure_airflow(Path(home))
        with _evolink_endpoint(api_key) as base_url:
            started = time.monotonic()
            video = _run_dag(conf)
            elapsed = time.monotonic() - started
        _report(video, base_url, elapsed)
    return 0


def _destination() -> str:
    destination = os.environ.get("EVOLINK_DEMO_DESTINATION", "").strip()
    if destination:
        return destination.rstrip("/")
    # Outside the temporary AIRFLOW_HOME, so the video is still there to watch after the demo exits.
    return (Path(tempfile.gettempdir()) / "evolink-demo-videos").as_uri()


def _configure_airflow(home: Path) -> None:
    """A private Airflow: must run before anything imports ``airflow``."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # Keep the run's story (submit, defer, progress, store) and drop the plumbing.
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": " ".join(f"{name}=WARNING" for name in _QUIET_LOGGERS),
        }
    )
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_EVOLINK")]:
        del os.environ[name]


@contextlib.contextmanager
def _evolink_endpoint(api_key: str) -> Iterator[str]:
    """Point ``evolink_default`` at the real API (key given) or at an emulator stopped on any exit."""
    if api_key:
        base_url = os.environ.get("EVOLINK_BASE_URL", "").strip() or "https://api.evolink.ai"
        print(f"EVOLINK_API_KEY is set: targeting the EvoLink API at {base_url}, no emulator (this spends credits).")
        _set_connection(base_url, api_key)
        yield base_url
        return

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    os.environ["EVOLINK_POLL_INTERVAL"] = EMULATOR_POLL_SECONDS
    with EvoLinkEmulator(port=0, processing_seconds=EMULATOR_PROCESSING_SECONDS) as emulator:
        print(f"EvoLink emulator at {emulator.base_url} (set EVOLINK_API_KEY to use the real API instead).")
        # The emulator fetches every media input when a task starts, as EvoLink does; its files API (uploads of
        # local inputs) listens on a port of its own, like EvoLink's files host.
        _set_connection(emulator.base_url, emulator.api_key, files_base_url=emulator.files_base_url)
        yield emulator.base_url


def _set_connection(base_url: str, api_key: str, **extra: object) -> None:
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {
            "conn_type": "evolink",
            "host": base_url,
            "password": api_key,
            "extra": {"timeout": 30, "max_retries": 3, **extra},
        }
    )


def _run_dag(conf: dict[str, object]) -> Path:
    """Create the metadata DB, run the DAG once with ``dag.test()``, return the saved video's local path."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    print("Creating the Airflow metadata database (SQLite)...")
    for name in ("alembic", "airflow.utils.db"):
        logging.getLogger(name).setLevel(logging.WARNING)
    initdb()
    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    if bag.import_errors:
        raise SystemExit(f"example_dags/ failed to import: {bag.import_errors}")
    dag = bag.dags[DAG_ID]
    print(f"Running {DAG_ID} with conf {json.dumps(conf)}")
    run = dag.test(run_conf=conf)
    if run.state != "success":
        raise SystemExit(f"{DAG_ID} ended {run.state}: see the task logs above.")

    uris = run.get_task_instance("save").xcom_pull(task_ids="save")
    if not uris:
        raise SystemExit("the save task returned no stored URI")
    uri = uris[0]
    if urlsplit(uri).scheme not in ("", "file"):
        raise SystemExit(f"Saved to {uri}: download it to inspect it (only file:// is read back here).")
    return Path(urlsplit(uri).path)


def _report(video: Path, base_url: str, elapsed: float) -> None:
    """Read the video back with PyAV: proof that a real, playable MP4 arrived."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        seconds = (container.duration or 0) / av.time_base
        fps = float(stream.average_rate or 0)
        lines = [
            "",
            f"Done in {elapsed:.1f} s against {base_url}. Saved video:",
            f"  path:       {video}",
            f"  size:       {video.stat().st_size:,} bytes",
            f"  duration:   {seconds:.2f} s ({stream.frames} frames at {fps:g} fps)",
            f"  resolution: {stream.width}x{stream.height} ({stream.codec_context.name})",
        ]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
