"""The API key never leaves the connection: a full ``dag.test()`` of ``evolink_reference_to_video`` with a
sentinel key, then a search of everything the run left behind.

Searched for the key (and a distinctive fragment of it): the task logs (``dag.test()`` writes them to the
process's stdout/stderr, captured with ``capfd``, plus stdlib logging via ``caplog`` and any file under
``AIRFLOW_HOME/logs``), every XCom value, the trigger row (decrypted kwargs as the triggerer reads them), the
rendered template fields, the resumed task's event (``next_kwargs``), and every column of every table of the
metadata DB, plus the raw SQLite files. The emulator's request log shows whether any request to the file host
(result downloads, samples) carried an ``Authorization`` header. The trigger row and the event must not carry
result URLs either (they are signed links, stored unencrypted).

A second run, of ``evolink_motion_control`` with its character image in a private S3 bucket (signed) and its
reference video a local file (uploaded through the files API), is searched the same way for the signed input link
and the uploaded file's URL: they may appear only masked in the logs, and nowhere else (the stored submission
that a retry replays is encrypted with the API key).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SENTINEL_KEY = "sk-SENTINEL-b7e2c9f4a1d8-never-log-me"
#: A fragment that survives partial masking or truncation of the key.
SENTINEL_FRAGMENT = "b7e2c9f4a1d8"
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "evolink_reference_to_video"


@dataclass
class ScannedRun:
    run: Any
    emulator_log: list[dict[str, Any]]
    output: str  # stdout + stderr + stdlib log records of the whole run
    destination: Path
    result_urls: list[str]  # the EvoLink task's signed result links, as the API gives them


@pytest.fixture(scope="module")
def scanned_run(
    tmp_path_factory: pytest.TempPathFactory, evolink_connection_json: Callable[..., str]
) -> Iterator[ScannedRun]:
    """One ``dag.test()`` of the example DAG against an emulator that only accepts the sentinel key.

    The emulator takes 5 s per task, longer than the sensor's first check, so the sensor defers and
    ``dag.test()`` runs the trigger (and writes its trigger row). Output is captured at the file-descriptor level.
    """
    from airflow import settings
    from airflow.utils.db import initdb
    from airflow_names import DagBag

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    destination = tmp_path_factory.mktemp("videos")
    capture = _FdCapture(tmp_path_factory.mktemp("capture"))
    with EvoLinkEmulator(api_key=SENTINEL_KEY, processing_seconds=5.0) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_EVOLINK_DEFAULT", evolink_connection_json(emu.base_url, SENTINEL_KEY))
        patch.setenv("EVOLINK_POLL_INTERVAL", "0.5")  # read when the DAG file is parsed
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        patch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        initdb()
        dag = DagBag(dag_folder=str(EXAMPLE_DAGS)).get_dag(DAG_ID)
        with capture:
            run = dag.test(run_conf={"duration": 3, "destination": destination.as_uri()})
        (post,) = [e for e in emu.requests() if e["method"] == "POST" and e["status"] == 200]
        detail = httpx.get(
            f"{emu.base_url}/v1/tasks/{post['task_id']}", headers={"Authorization": f"Bearer {SENTINEL_KEY}"}
        ).json()
        yield ScannedRun(run, emu.requests(), capture.text, destination, detail["results"])


class _FdCapture:
    """Capture everything a block prints: ``sys.stdout``/``sys.stderr`` (where Airflow's structlog loggers write:
    they look the stream up per message under pytest), file descriptors 1 and 2, and stdlib log records. The
    fixture is module-scoped, where pytest's ``capfd``/``caplog`` are not available."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.text = ""

    def __enter__(self) -> _FdCapture:
        import logging
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        self._files = [open(self.folder / f"fd{fd}.txt", "w+b") for fd in (1, 2)]  # noqa: SIM115
        self._saved = [os.dup(fd) for fd in (1, 2)]
        for fd, file in zip((1, 2), self._files, strict=True):
            os.dup2(file.fileno(), fd)
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        self._records: list[str] = []
        records = self._records

        class _Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    records.append(self.format(record))
                except Exception:
                    records.append(repr(record.__dict__))

        self._handler = _Collect(level=logging.DEBUG)
        logging.getLogger().addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import logging
        import sys

        printed = [sys.stdout.getvalue(), sys.stderr.getvalue()]  # type: ignore[attr-defined]
        sys.stdout, sys.stderr = self._streams
        sys.stdout.flush()
        sys.stderr.flush()
        logging.getLogger().removeHandler(self._handler)
        for fd, saved in zip((1, 2), self._saved, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        parts = []
        for file in self._files:
            file.seek(0)
            parts.append(file.read().decode("utf-8", "replace"))
            file.close()
        self.text = "\n".join([*printed, *parts, *self._records])
        # Show what the run printed when a test fails, as pytest would have.
        sys.stdout.write(printed[0] + parts[0])
        sys.stderr.write(printed[1] + parts[1])


def _leaks(text: str) -> list[str]:
    return [needle for needle in (SENTINEL_KEY, SENTINEL_FRAGMENT) if needle in text]


def _session() -> Any:
    from airflow.utils.session import create_session

    return create_session()


def _database_path() -> Path:
    from airflow import settings

    url = settings.engine.url
    assert url.get_backend_name() == "sqlite", "the secret scan reads the session's SQLite metadata DB"
    return Path(url.database)


def _database_rows() -> Iterator[tuple[str, str]]:
    """Every row of every table of the metadata database, as ``(table, the row's values as text)``, and each
    Fernet-encrypted Variable value decrypted (below Airflow 3.3 the submission is kept in a Variable)."""
    with sqlite3.connect(f"file:{_database_path()}?mode=ro", uri=True) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - table names from sqlite_master
                yield (
                    table,
                    " ".join(
                        str(value) if not isinstance(value, bytes) else value.decode("utf-8", "replace")
                        for value in row
                    ),
                )
        yield from _decrypted_variables(db)


def _decrypted_variables(db: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    from airflow.models.crypto import get_fernet
    from cryptography.fernet import InvalidToken

    for (value,) in db.execute("SELECT val FROM variable WHERE is_encrypted"):
        # Unit test mode gives each process its own Fernet key: another process's Variables cannot be read here.
        with contextlib.suppress(InvalidToken):
            yield ("variable (decrypted)", get_fernet().decrypt(value.encode()).decode())


def test_the_run_succeeded_deferred_and_downloaded(scanned_run: ScannedRun) -> None:
    assert scanned_run.run.state == "success"
    assert {ti.task_id: ti.state for ti in scanned_run.run.get_task_instances()} == {
        "build_request": "success",
        "generate": "success",
        "wait": "success",
        "save": "success",
    }
    assert list(scanned_run.destination.rglob("*.mp4"))
    assert any(entry["path"].startswith("/files/") for entry in scanned_run.emulator_log)
    assert "[DAG TEST] running trigger in line" in scanned_run.output, "the sensor never deferred"


def test_no_authorization_header_reaches_the_file_host(scanned_run: ScannedRun) -> None:
    file_requests = [e for e in scanned_run.emulator_log if e["path"].startswith(("/files/", "/samples/"))]
    api_requests = [e for e in scanned_run.emulator_log if e["path"].startswith("/v1/")]
    assert file_requests
    assert [e["path"] for e in file_requests if e["auth"]] == []
    assert all(e["auth"] for e in api_requests)  # the key did go where it belongs


def test_the_key_is_in_no_log_output(scanned_run: ScannedRun) -> None:
    assert "EvoLink task" in scanned_run.output  # the provider's own log lines were captured
    assert _leaks(scanned_run.output) == []


def test_the_key_is_in_no_log_file(scanned_run: ScannedRun) -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    database = _database_path()
    leaking = []
    for path in home.rglob("*"):
        if (
            path.is_file()
            and not path.name.startswith(database.name)
            and _leaks(path.read_bytes().decode("utf-8", "replace"))
        ):
            leaking.append(str(path.relative_to(home)))
    assert leaking == []


def test_the_key_is_in_no_xcom_value(scanned_run: ScannedRun) -> None:
    from airflow.models.xcom import XComModel

    with _session() as session:
        rows = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=scanned_run.run.run_id).all()
        values = {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}
    assert ("generate", "return_value") in values
    assert ("wait", "return_value") in values
    assert _leaks(json.dumps({f"{task}.{key}": value for (task, key), value in values.items()}, default=str)) == []


def test_the_trigger_row_holds_only_plain_kwargs_without_key_or_result_urls(scanned_run: ScannedRun) -> None:
    from airflow.models.trigger import Trigger

    evolink_task_id = _evolink_task_id(scanned_run)
    with _session() as session:
        rows = [(row.classpath, row.kwargs, row.encrypted_kwargs) for row in session.query(Trigger).all()]
    ours = [(classpath, kwargs) for classpath, kwargs, _ in rows if kwargs.get("evolink_task_id") == evolink_task_id]
    assert ours, "no trigger row for this run's EvoLink task"
    for classpath, kwargs in ours:
        assert classpath == "airflow_provider_evolink.triggers.evolink.EvoLinkTaskTrigger"
        assert set(kwargs) <= {
            "evolink_task_id",
            "evolink_conn_id",
            "poll_interval",
            "end_time",
            "estimated_time",
            "adaptive_polling",
            "deadline_from",
        }
        assert "/files/" not in json.dumps(kwargs)
    assert _leaks(json.dumps([(c, k, e) for c, k, e in rows], default=str)) == []


def test_the_event_the_sensor_resumed_with_has_no_key_or_result_urls(scanned_run: ScannedRun) -> None:
    from airflow_names import every_try

    with _session() as session:
        kwargs = [
            json.dumps(row.next_kwargs, default=str) for row in every_try(session, DAG_ID, scanned_run.run.run_id)
        ]
    for text in kwargs:
        assert _leaks(text) == []
        assert "/files/" not in text
        assert "sig=" not in text


def test_the_key_is_in_no_rendered_template_field(scanned_run: ScannedRun) -> None:
    from airflow_names import rendered_fields

    with _session() as session:
        fields = rendered_fields(session, DAG_ID, scanned_run.run.run_id)
    assert {"generate", "wait", "save"} <= set(fields)
    assert _leaks(json.dumps(fields, default=str)) == []


def test_the_key_is_nowhere_in_the_metadata_database(scanned_run: ScannedRun) -> None:
    database = _database_path()
    rows = list(_database_rows())
    assert rows
    assert sorted({table for table, text in rows if _leaks(text)}) == []
    for path in database.parent.glob(database.name + "*"):  # the DB file, its WAL and shared memory
        assert SENTINEL_FRAGMENT.encode() not in path.read_bytes(), path.name


def _evolink_task_id(scanned_run: ScannedRun) -> str:
    posts = [e for e in scanned_run.emulator_log if e["method"] == "POST" and e["status"] == 200]
    assert len(posts) == 1
    return str(posts[0]["task_id"])


def _signatures(scanned_run: ScannedRun) -> list[str]:
    signatures = [url.rpartition("sig=")[2] for url in scanned_run.result_urls]
    assert signatures
    assert all(signatures)
    return signatures


def test_the_signed_result_links_are_masked_in_the_log_output(scanned_run: ScannedRun) -> None:
    assert [signature for signature in _signatures(scanned_run) if signature in scanned_run.output] == []


def test_no_signed_result_link_is_in_any_xcom_or_anywhere_in_the_metadata_database(scanned_run: ScannedRun) -> None:
    from airflow.models.xcom import XComModel

    with _session() as session:
        rows = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=scanned_run.run.run_id).all()
        xcoms = json.dumps({f"{row.task_id}.{row.key}": XComModel.deserialize_value(row) for row in rows})
    assert "result_count" in xcoms  # the completed detail is there, without its links
    signatures = _signatures(scanned_run)
    assert [signature for signature in signatures if signature in xcoms] == []
    database = _database_path()
    for path in database.parent.glob(database.name + "*"):  # the DB file, its WAL and shared memory
        content = path.read_bytes()
        assert [signature for signature in signatures if signature.encode() in content] == [], path.name


# ------------------------------------------------------------------------------ signed and uploaded inputs
INPUTS_DAG_ID = "evolink_motion_control"


@dataclass
class ScannedInputsRun:
    run: Any
    emulator_log: list[dict[str, Any]]
    output: str
    files_base_url: str
    image_uri: str


@pytest.fixture(scope="module")
def scanned_inputs_run(
    tmp_path_factory: pytest.TempPathFactory, evolink_connection_json: Callable[..., str], s3_bucket: str
) -> Iterator[ScannedInputsRun]:
    """One ``dag.test()`` of the motion-control DAG: its image a private S3 object, its video the local sample."""
    from airflow import settings
    from airflow.sdk import ObjectStoragePath
    from airflow.utils.db import initdb
    from airflow_names import DagBag

    from airflow_provider_evolink.emulator import EvoLinkEmulator, media

    image = ObjectStoragePath(f"s3://aws_moto@{s3_bucket}/scan/character.jpg")
    image.write_bytes(media.character_image().data)
    destination = tmp_path_factory.mktemp("input-videos")
    capture = _FdCapture(tmp_path_factory.mktemp("input-capture"))
    with EvoLinkEmulator(api_key=SENTINEL_KEY, processing_seconds=5.0) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "AIRFLOW_CONN_EVOLINK_DEFAULT",
            evolink_connection_json(emu.base_url, SENTINEL_KEY, files_base_url=emu.files_base_url),
        )
        patch.setenv("EVOLINK_POLL_INTERVAL", "0.5")
        patch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        patch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        initdb()
        dag = DagBag(dag_folder=str(EXAMPLE_DAGS)).get_dag(INPUTS_DAG_ID)
        with capture:
            run = dag.test(run_conf={"image_url": str(image), "destination": destination.as_uri()})
        yield ScannedInputsRun(run, emu.requests(), capture.text, emu.files_base_url, str(image))


def _input_links(scanned: ScannedInputsRun) -> list[str]:
    """Fragments that identify the links made for the inputs: any S3 signature, and the uploaded file's URL
    (its path as the emulator saw it fetched, and the files host)."""
    fetched = [e["path"] for e in scanned.emulator_log if e["host"] == "files" and e["method"] == "GET"]
    assert fetched, "the emulator never fetched the uploaded video"
    file_ids = [path.rpartition("/")[2].partition(".")[0] for path in fetched]  # stored as <file_id>.<ext>
    return ["Signature=", "X-Amz-Signature", scanned.files_base_url, *fetched, *file_ids]


def _input_leaks(scanned: ScannedInputsRun, text: str) -> list[str]:
    return [fragment for fragment in (*_input_links(scanned), SENTINEL_KEY) if fragment in text]


def test_the_inputs_run_signed_the_image_and_uploaded_the_video_once(scanned_inputs_run: ScannedInputsRun) -> None:
    assert scanned_inputs_run.run.state == "success"
    log = scanned_inputs_run.emulator_log
    assert len([e for e in log if e["host"] == "files" and e["method"] == "POST"]) == 1
    assert [e["auth"] for e in log if e["host"] == "files" and e["method"] == "GET"] == [False]
    assert "Media inputs: 1 signed" in scanned_inputs_run.output  # the provider's own log line was captured


def test_input_links_are_in_no_log_output(scanned_inputs_run: ScannedInputsRun) -> None:
    assert _input_leaks(scanned_inputs_run, scanned_inputs_run.output) == []


def test_input_links_are_in_no_xcom_rendered_field_or_event(scanned_inputs_run: ScannedInputsRun) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow_names import rendered_fields

    run_id = scanned_inputs_run.run.run_id
    with _session() as session:
        xcoms = [
            XComModel.deserialize_value(row)
            for row in session.query(XComModel).filter_by(dag_id=INPUTS_DAG_ID, run_id=run_id)
        ]
        rendered = rendered_fields(session, INPUTS_DAG_ID, run_id)
        events = [row.next_kwargs for row in session.query(TaskInstance).filter_by(dag_id=INPUTS_DAG_ID, run_id=run_id)]
    assert xcoms
    assert rendered["generate"]["request"]["image_urls"] == [scanned_inputs_run.image_uri]  # the URI as written
    text = json.dumps([xcoms, rendered, events], default=str)
    assert _input_leaks(scanned_inputs_run, text) == []


def test_input_links_are_nowhere_in_the_metadata_database(scanned_inputs_run: ScannedInputsRun) -> None:
    rows = list(_database_rows())
    sealed = sum("sealed_request" in text for _, text in rows)
    assert sealed, "the stored submission (with the sealed request) was not in the database: nothing was scanned"
    assert sorted({table for table, text in rows if _input_leaks(scanned_inputs_run, text)}) == []


def test_input_links_are_in_no_log_file(scanned_inputs_run: ScannedInputsRun) -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    database = _database_path()
    leaking = [
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file()
        and not path.name.startswith(database.name)
        and _input_leaks(scanned_inputs_run, path.read_bytes().decode("utf-8", "replace"))
    ]
    assert leaking == []
