"""EvoLinkToStorageOperator: atomic, resumable, memory-flat downloads of EvoLink results into ObjectStoragePath.

respx pins the HTTP edge cases (short bodies, ignored ranges, status handling); the emulator proves the whole path
over real HTTP into ``file://``, ``memory://`` and ``s3://`` (moto's server).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import google_crc32c
import httpcore
import httpx
import pytest
import respx
from airflow.sdk import Asset, ObjectStoragePath
from airflow.sdk.execution_time.context import OutletEventAccessors
from fakes import VirtualTime

from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkResultHostError,
    EvoLinkTaskNotFinishedError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.transfers import result_host, sinks
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

API = "http://evolink.test"
CDN = "https://cdn.evolink.test"
TASK_ID = "task-unified-1700000000-abc123"
CREATED = 1_700_000_000  # 2023-11-14 22:13:20 UTC
BODY = bytes(range(256)) * 40  # 10,240 bytes


def task_detail(results: list[str], status: str = "completed", **fields: Any) -> dict[str, Any]:
    return {
        "id": TASK_ID,
        "object": "video.generation.task",
        "created": CREATED,
        "model": "kling-o3-reference-to-video",
        "progress": 100 if status == "completed" else 40,
        "status": status,
        "results": results if status == "completed" else None,
        **fields,
    }


def operator(destination: str | ObjectStoragePath, evolink_task_id: str = TASK_ID, **kwargs: Any) -> Any:
    return EvoLinkToStorageOperator(task_id="store", evolink_task_id=evolink_task_id, destination=destination, **kwargs)


def crc32c(data: bytes) -> str:
    """CRC32C as S3 and GCS show it: base64 of its four big-endian bytes."""
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class CutStream(httpx.SyncByteStream):
    """A body that sends ``data`` and then fails like a dropped connection."""

    def __init__(self, data: bytes, error: type[httpx.TransportError] = httpx.RemoteProtocolError) -> None:
        self.data, self.error = data, error

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise self.error("peer closed connection without sending complete message body")


def ranged(request: httpx.Request, stream_from: Callable[[int], httpx.SyncByteStream]) -> httpx.Response:
    """The answer to a request for ``BODY`` from its ``Range`` start (200 from 0, else 206), with the body
    ``stream_from(start)`` sends."""
    start = int(request.headers.get("range", "bytes=0-")[6:-1])
    headers = {"content-range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"} if start else {}
    return httpx.Response(
        206 if start else 200,
        headers={"content-length": str(len(BODY) - start), **headers},
        stream=stream_from(start),
    )


# ---------------------------------------------------------------------------------------- respx: edges
@pytest.fixture
def api(evolink_connection: Callable[..., str], virtual_time: VirtualTime) -> Iterator[respx.MockRouter]:
    evolink_connection(API, "sk-test", max_retries=2, outage_tolerance=60)
    with respx.mock(assert_all_called=False) as router:
        yield router


def mock_task(api: respx.MockRouter, results: list[str], **fields: Any) -> respx.Route:
    return api.get(f"{API}/v1/tasks/{TASK_ID}").respond(json=task_detail(results, **fields))


def test_short_body_resumes_with_a_range_request(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4?sig=secret"])
    cdn = api.get(f"{CDN}/v/out.mp4").mock(
        side_effect=[
            # Content-Length promises the whole file, the body stops at 4,000 bytes.
            httpx.Response(200, headers={"content-length": str(len(BODY))}, content=BODY[:4000]),
            httpx.Response(
                206,
                headers={"content-range": f"bytes 4000-{len(BODY) - 1}/{len(BODY)}", "content-type": "video/mp4"},
                content=BODY[4000:],
            ),
        ]
    )

    uris = operator(str(tmp_path)).execute({})

    assert uris == [str(tmp_path / f"{TASK_ID}.mp4")]
    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY
    assert "range" not in cdn.calls[0].request.headers
    # No content coding, so Content-Length and Range count the bytes written.
    assert cdn.calls[0].request.headers["accept-encoding"] == "identity"
    assert cdn.calls[1].request.headers["range"] == "bytes=4000-"
    assert leftovers(tmp_path) == [f"{TASK_ID}.mp4"]


def test_dropped_connection_resumes_where_it_stopped(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    cdn = api.get(f"{CDN}/v/out.mp4").mock(
        side_effect=[
            httpx.Response(200, headers={"content-length": str(len(BODY))}, stream=CutStream(BODY[:1000])),
            httpx.Response(206, headers={"content-range": f"bytes 1000-10239/{len(BODY)}"}, content=BODY[1000:]),
        ]
    )

    operator(str(tmp_path)).execute({})

    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY
    assert cdn.calls[1].request.headers["range"] == "bytes=1000-"


def test_a_server_that_ignores_range_restarts_from_zero(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    api.get(f"{CDN}/v/out.mp4").mock(
        side_effect=[
            httpx.Response(200, headers={"content-length": str(len(BODY))}, content=BODY[:3000]),
            httpx.Response(200, headers={"content-length": str(len(BODY))}, content=BODY),
        ]
    )

    operator(str(tmp_path)).execute({"outlet_events": OutletEventAccessors()})

    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY


def test_transient_result_host_errors_are_retried(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    api.get(f"{CDN}/v/out.mp4").mock(
        side_effect=[httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, content=BODY)]
    )

    operator(str(tmp_path)).execute({})

    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY


def test_failing_for_longer_than_the_outage_tolerance_leaves_no_file_and_no_url_in_the_error(
    api: respx.MockRouter, tmp_path: Path, virtual_time: VirtualTime
) -> None:
    url = f"{CDN}/v/out.mp4?sig=very-secret"
    mock_task(api, [url])

    def cut_after_the_first_100_bytes(request: httpx.Request) -> httpx.Response:
        # The first attempt gets 100 bytes; every resume is cut off before sending anything.
        return ranged(request, lambda start: CutStream(b"" if start else BODY[:100]))

    cdn = api.get(f"{CDN}/v/out.mp4").mock(side_effect=cut_after_the_first_100_bytes)

    with pytest.raises(EvoLinkTransportError, match="RemoteProtocolError after 100 of") as excinfo:
        operator(str(tmp_path)).execute({})

    assert TASK_ID in str(excinfo.value)
    assert "very-secret" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None
    ranges = [call.request.headers.get("range") for call in cdn.calls]
    assert ranges[:3] == [None, "bytes=100-", "bytes=100-"]
    assert set(ranges[1:]) == {"bytes=100-"}
    assert 60 <= virtual_time.now <= 120  # tolerated for the connection's outage_tolerance (60 s), then given up
    assert leftovers(tmp_path) == []


def test_a_body_cut_off_on_every_attempt_completes_by_resuming(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])

    def cut_after_100_bytes(request: httpx.Request) -> httpx.Response:
        return ranged(
            request,
            lambda start: (
                CutStream(BODY[start : start + 100]) if start + 100 < len(BODY) else httpx.ByteStream(BODY[start:])
            ),
        )

    cdn = api.get(f"{CDN}/v/out.mp4").mock(side_effect=cut_after_100_bytes)

    operator(str(tmp_path)).execute({})

    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY
    assert cdn.call_count == -(-len(BODY) // 100)  # progress resumes at once, however many cuts
    assert leftovers(tmp_path) == [f"{TASK_ID}.mp4"]


def test_killing_the_task_mid_stream_deletes_the_temporary_file(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    op = operator(str(tmp_path))

    class KilledAfterFirstChunk(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield BODY[:5000]
            assert leftovers(tmp_path)[0].startswith(f".{TASK_ID}.mp4.part-")
            op.on_kill()  # what Airflow's SIGTERM handler does
            yield BODY[5000:]

    api.get(f"{CDN}/v/out.mp4").respond(200, stream=KilledAfterFirstChunk())

    with pytest.raises(EvoLinkError, match="killed"):
        op.execute({})
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [403, 404, 410])
def test_expired_links_fail_with_the_task_id_and_created_time(
    api: respx.MockRouter, tmp_path: Path, status: int
) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4?Expires=1&Signature=secret"])
    cdn = api.get(f"{CDN}/v/out.mp4").respond(status)

    with pytest.raises(AirflowFailException) as excinfo:
        operator(str(tmp_path)).execute({})

    assert isinstance(excinfo.value.__cause__, EvoLinkResultHostError)
    message = str(excinfo.value)
    assert TASK_ID in message
    assert "24 h" in message
    assert "2023-11-14 22:13:20 UTC" in message
    assert "Signature" not in message
    assert cdn.call_count == 1  # an expired link is never retried
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [400, 401])
def test_other_result_host_errors_fail_once_as_result_host_errors(
    api: respx.MockRouter, tmp_path: Path, status: int
) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    cdn = api.get(f"{CDN}/v/out.mp4").respond(status)

    with pytest.raises(AirflowFailException, match=f"HTTP {status} from the result host") as excinfo:
        operator(str(tmp_path)).execute({})
    # A CDN 401 is about the signed link, not the API key: never an EvoLinkAuthenticationError.
    assert type(excinfo.value.__cause__) is EvoLinkResultHostError
    assert excinfo.value.__cause__.status_code == status
    assert "API key" not in str(excinfo.value)
    assert cdn.call_count == 1


def test_a_429_from_the_result_host_waits_its_retry_after(
    api: respx.MockRouter, tmp_path: Path, virtual_time: VirtualTime
) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"])
    api.get(f"{CDN}/v/out.mp4").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=BODY)]
    )

    operator(str(tmp_path)).execute({})

    assert virtual_time.waits == [7.0]
    assert (tmp_path / f"{TASK_ID}.mp4").read_bytes() == BODY


def test_several_results_are_numbered_with_extensions_from_content_type_or_url(
    api: respx.MockRouter, tmp_path: Path
) -> None:
    mock_task(api, [f"{CDN}/a", f"{CDN}/b.webm", f"{CDN}/c"])
    api.get(f"{CDN}/a").respond(200, headers={"content-type": "video/quicktime"}, content=b"a")
    api.get(f"{CDN}/b.webm").respond(200, headers={"content-type": "application/octet-stream"}, content=b"b")
    api.get(f"{CDN}/c").respond(200, content=b"c")

    uris = operator(str(tmp_path)).execute({})

    assert [Path(uri).name for uri in uris] == [f"{TASK_ID}_1.mov", f"{TASK_ID}_2.webm", f"{TASK_ID}_3.mp4"]


@pytest.mark.parametrize(
    ("status", "error"),
    [("processing", EvoLinkTaskNotFinishedError), ("failed", AirflowFailException)],
    ids=["processing", "failed"],
)
def test_a_task_that_is_not_completed_is_refused_with_status_and_id(
    api: respx.MockRouter, tmp_path: Path, status: str, error: type[Exception]
) -> None:
    mock_task(api, [], status=status, error={"code": "content_policy_violation", "message": "no"})

    with pytest.raises(error, match=rf"EvoLink task {TASK_ID} is {status}"):
        operator(str(tmp_path)).execute({})


def test_an_answer_about_another_task_is_refused(api: respx.MockRouter, tmp_path: Path) -> None:
    mock_task(api, [f"{CDN}/v/out.mp4"], id="../../elsewhere")

    with pytest.raises(EvoLinkError, match=r"got task '\.\./\.\./elsewhere'"):
        operator(str(tmp_path)).execute({})
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("destination", "match"),
    [
        ("", "destination must be a folder URI or an absolute path"),
        ("not a uri", "'not a uri' has no scheme and is not an absolute path"),
        ("videos/out", "has no scheme and is not an absolute path"),
        ("nosuchscheme://bucket/prefix", "unknown scheme 'nosuchscheme'"),
        ("gs://bucket/prefix", "needs a package that is not installed for 'gs'"),  # gcsfs is not installed
    ],
)
def test_a_literal_destination_that_cannot_work_fails_the_dag_not_a_paid_run(destination: str, match: str) -> None:
    # Issue 12: "not a uri" used to be accepted and written under the worker's working directory.
    with pytest.raises(ValueError, match=match):
        operator(destination)


def test_a_checksum_that_is_not_offered_fails_the_dag() -> None:
    with pytest.raises(ValueError, match="checksum must be one of 'crc32c', 'sha256', got 'md5'"):
        operator("/videos", checksum="md5")


def test_a_rendered_destination_that_cannot_work_fails_once_before_anything_is_fetched(
    api: respx.MockRouter,
) -> None:
    route = mock_task(api, [f"{CDN}/v/out.mp4"])
    op = operator("{{ params.destination }}")  # a template: checked once rendered
    op.destination = "not a uri"  # what rendering gave

    with pytest.raises(AirflowFailException, match="has no scheme and is not an absolute path") as excinfo:
        op.execute({})
    assert isinstance(excinfo.value.__cause__, EvoLinkConfigError)
    assert not route.called


def test_a_connection_given_twice_is_refused_before_anything_is_fetched(api: respx.MockRouter) -> None:
    route = mock_task(api, [f"{CDN}/v/out.mp4"])

    with pytest.raises(AirflowFailException, match="names connection 'conn_a' but storage_conn_id is 'conn_b'"):
        operator("s3://conn_a@bucket/prefix", storage_conn_id="conn_b").execute({})
    assert not route.called


def test_a_destination_that_is_a_file_is_refused(api: respx.MockRouter, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")

    with pytest.raises(AirflowFailException, match="is a file; it must name a folder"):
        operator(str(tmp_path / "file")).execute({})


def test_a_task_id_that_is_not_a_file_name_is_refused(api: respx.MockRouter, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match="evolink_task_id") as excinfo:
        operator(str(tmp_path), evolink_task_id="../escape").execute({})
    assert isinstance(excinfo.value.__cause__, EvoLinkConfigError)


def test_result_urls_are_masked_before_each_request(
    api: respx.MockRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{CDN}/v/out.mp4?sig=secret"
    mock_task(api, [url])
    masked: list[str] = []
    monkeypatch.setattr(result_host, "mask_secret", masked.append)
    api.get(f"{CDN}/v/out.mp4").mock(side_effect=lambda request: httpx.Response(200, content=str(masked).encode()))

    operator(str(tmp_path)).execute({})

    assert (tmp_path / f"{TASK_ID}.mp4").read_text() == str([url])


# ------------------------------------------------------------------------------------- emulator: end to end
O3_REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a calm lake at dawn", "duration": 3}


def create_task(emu: Any) -> str:
    return (
        EvoLinkHook().create_video_generation({**O3_REQUEST, "video_url": f"{emu.base_url}/samples/reference.mp4"}).id
    )


def result_requests(emu: Any, evolink_task_id: str) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["path"].startswith(f"/files/{evolink_task_id}/")]


@pytest.fixture
def no_backoff(virtual_time: VirtualTime) -> None:
    """The download's waits on virtual time."""


def test_streams_to_a_local_folder_byte_identical_and_playable(emulator: Any, tmp_path: Path) -> None:
    import av

    evolink_task_id = create_task(emulator)
    folder = tmp_path / "videos" / "new"  # created on demand
    asset = Asset("videos", uri="file:///videos/latest")
    events = OutletEventAccessors()

    uris = operator(f"file://{folder}", evolink_task_id, outlets=[asset]).execute({"outlet_events": events})

    stored = folder / f"{evolink_task_id}.mp4"
    assert uris == [f"file://{stored}"]
    assert leftovers(folder) == [stored.name]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == emulator.result_sha256(evolink_task_id)
    with av.open(str(stored)) as container:
        assert container.duration / av.time_base == pytest.approx(O3_REQUEST["duration"], abs=0.1)
    requests = result_requests(emulator, evolink_task_id)
    assert requests
    assert not any(r["auth"] for r in requests)  # the API key never reached the result host
    assert events[asset].extra == {
        "evolink_task_id": evolink_task_id,
        "model": "kling-o3-reference-to-video",
        "source": "evolink",
        # No upstream generate task here: only what the task detail says (its length) is known.
        "prompt": None,
        "duration": O3_REQUEST["duration"],
        "quality": None,
        "resolution": None,
        "usage": None,
        "render_seconds": None,
        "bytes": stored.stat().st_size,
        "crc32c": crc32c(stored.read_bytes()),
        "files": [{"uri": uris[0], "bytes": stored.stat().st_size, "crc32c": crc32c(stored.read_bytes())}],
    }


@pytest.mark.airflow_min("3.2", reason="memory:// URIs keep their root only from universal-pathlib 0.3 (3.1 has 0.2)")
def test_streams_to_memory(emulator: Any, memory_folder: str) -> None:
    evolink_task_id = create_task(emulator)

    uris = operator(ObjectStoragePath(memory_folder), evolink_task_id).execute({})

    stored = ObjectStoragePath(uris[0])
    assert uris == [f"{memory_folder}/{evolink_task_id}.mp4"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == emulator.result_sha256(evolink_task_id)
    assert [p.name for p in ObjectStoragePath(memory_folder).iterdir()] == [stored.name]


def test_streams_to_s3_with_the_connection_from_storage_conn_id(
    emulator: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    evolink_task_id = create_task(emulator)
    destination = f"s3://{s3_bucket}/{evolink_task_id}/videos"
    calls = s3_calls(monkeypatch)
    events = OutletEventAccessors()

    uris = operator(destination, evolink_task_id, storage_conn_id="aws_moto", outlets=[Asset("videos")]).execute(
        {"outlet_events": events}
    )

    # Smaller than one part: one PutObject of the final key once complete, no upload, no marker, no copy.
    assert [call for call in calls if call not in {"head_object", "list_objects_v2", "get_object"}] == ["put_object"]

    assert uris == [f"s3://aws_moto@{s3_bucket}/{evolink_task_id}/videos/{evolink_task_id}.mp4"]
    folder = ObjectStoragePath(destination, conn_id="aws_moto")
    assert [p.name for p in folder.iterdir()] == [f"{evolink_task_id}.mp4"]
    body = ObjectStoragePath(uris[0]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == emulator.result_sha256(evolink_task_id)
    # S3 was given the CRC32C to check the body against, and shows the one the Asset event carries.
    assert s3_checksum(ObjectStoragePath(uris[0]))[0] == crc32c(body)
    assert events[Asset("videos")].extra["crc32c"] == crc32c(body)


def s3_checksum(stored: ObjectStoragePath) -> tuple[str, str]:
    """(``ChecksumCRC32C``, ``ChecksumType``) S3 reports for an object (moto computes it from the bytes stored)."""
    bucket, key, _ = stored.fs.split_path(stored.path)
    head = stored.fs.call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return head.get("ChecksumCRC32C"), head.get("ChecksumType")


def test_a_cut_off_download_resumes_with_range_against_the_emulator(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evolink_task_id = create_task(emulator)
    real_result_client = EvoLinkHook.result_client

    def cut_first_download_only(hook: EvoLinkHook) -> httpx.Client:
        client = real_result_client(hook)
        # The emulator decided to cut this body when the request arrived; later requests go through.
        client.event_hooks["response"].append(lambda _response: emulator.set_faults(rate_cutoff=0.0))
        return client

    monkeypatch.setattr(EvoLinkHook, "result_client", cut_first_download_only)
    emulator.set_faults(rate_cutoff=1.0)
    try:
        uris = operator(str(tmp_path), evolink_task_id).execute({})
    finally:
        emulator.set_faults(rate_cutoff=0.0)

    stored = tmp_path / f"{evolink_task_id}.mp4"
    assert uris == [str(stored)]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == emulator.result_sha256(evolink_task_id)
    requests = result_requests(emulator, evolink_task_id)
    assert [r["status"] for r in requests] == [200, 206]
    assert leftovers(tmp_path) == [stored.name]


def test_a_download_cut_off_on_every_attempt_still_completes_on_s3_and_leaves_no_temporary_object(
    emulator: Any, s3_bucket: str, no_backoff: None
) -> None:
    evolink_task_id = create_task(emulator)
    destination = f"s3://aws_moto@{s3_bucket}/{evolink_task_id}"
    emulator.set_faults(rate_cutoff=1.0)  # every body stops halfway: each resume gets half of what is left
    try:
        [uri] = operator(destination, evolink_task_id).execute({})
    finally:
        emulator.set_faults(rate_cutoff=0.0)

    assert len(result_requests(emulator, evolink_task_id)) > 3
    folder = ObjectStoragePath(destination)
    assert [path.name for path in folder.iterdir()] == [f"{evolink_task_id}.mp4"]  # no temporary object
    with ObjectStoragePath(uri).open("rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == emulator.result_sha256(evolink_task_id)


def test_expired_links_fail_naming_the_task(evolink_connection: Callable[..., str], tmp_path: Path) -> None:
    import time

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0, result_ttl_seconds=0) as emu:
        evolink_connection(emu.base_url, emu.api_key)
        evolink_task_id = create_task(emu)
        time.sleep(1.1)  # links are signed with whole-second expiry times

        with pytest.raises(AirflowFailException, match=rf"{evolink_task_id}.*live 24 h.*created \d{{4}}-\d\d-\d\d"):
            operator(str(tmp_path), evolink_task_id).execute({})
    assert leftovers(tmp_path) == []


def test_a_rerun_keeps_a_same_size_file_and_refuses_a_different_one(emulator: Any, tmp_path: Path) -> None:
    evolink_task_id = create_task(emulator)
    op = operator(str(tmp_path), evolink_task_id, outlets=[Asset("videos")], checksum="sha256")
    first = op.execute({"outlet_events": OutletEventAccessors()})
    stored = tmp_path / f"{evolink_task_id}.mp4"
    before = stored.stat()

    events = OutletEventAccessors()
    assert op.execute({"outlet_events": events}) == first  # e.g. an Airflow retry after a later failure

    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    # The kept file is read once for the checksum the operator was asked for.
    assert events[Asset("videos")].extra["sha256"] == emulator.result_sha256(evolink_task_id)
    assert "crc32c" not in events[Asset("videos")].extra

    stored.write_bytes(b"someone else's file")
    with pytest.raises(AirflowFailException, match="exists with 19 bytes"):
        op.execute({})
    assert stored.read_bytes() == b"someone else's file"

    operator(str(tmp_path), evolink_task_id, overwrite=True).execute({})
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == emulator.result_sha256(evolink_task_id)
    assert leftovers(tmp_path) == [stored.name]


def test_a_large_result_streams_past_the_http_parser_with_the_right_bytes(
    evolink_connection: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    parsed: list[int] = []  # chunks of the result's body that h11 parsed (httpcore's own body reader)
    receive_body = httpcore._sync.http11.HTTP11Connection._receive_response_body

    def counting(self: Any, request: httpcore.Request) -> Iterator[bytes]:
        for chunk in receive_body(self, request):
            if request.url.target.startswith(b"/files/"):
                parsed.append(len(chunk))
            yield chunk

    monkeypatch.setattr(httpcore._sync.http11.HTTP11Connection, "_receive_response_body", counting)
    with EvoLinkEmulator(processing_seconds=0.0, result_size_bytes=(8 << 20) + 12345) as emu:
        evolink_connection(emu.base_url, emu.api_key)
        evolink_task_id = create_task(emu)
        events = OutletEventAccessors()
        operator(str(tmp_path), evolink_task_id, outlets=[Asset("videos")]).execute({"outlet_events": events})
        expected = emu.result_sha256(evolink_task_id)

    stored = tmp_path / f"{evolink_task_id}.mp4"  # a blob under a .mp4 link path
    assert stored.stat().st_size == (8 << 20) + 12345
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == expected
    assert events[Asset("videos")].extra["crc32c"] == crc32c(stored.read_bytes())
    # Only what arrived with the headers went through h11; the other 8 MiB came straight off the socket.
    assert len(parsed) == 1
    assert leftovers(tmp_path) == [stored.name]


# ------------------------------------------------------------------------------- a killed try's leftovers
class KilledBySignal(BaseException):
    """Stands for a SIGKILL: nothing of the try's own cleanup runs."""


class SaveTaskInstance:
    """The ``ti`` of the save task: what names its temporary objects."""

    dag_id, run_id, task_id, map_index = "evolink_demo", "manual__2026-11-30", "save", -1


def killed_try(monkeypatch: pytest.MonkeyPatch, op: Any, context: dict[str, Any], *, mid_stream: bool) -> None:
    """Run one try of ``op`` that dies like a SIGKILL: mid-stream (after the first chunk is written) or right
    after its temporary object is complete, before the move into place; no cleanup runs."""
    part_file = sinks.TemporaryObject

    def die_after_first_chunk(self: Any, chunk: bytes) -> None:
        self._out.write(chunk)
        self._out.flush()
        raise KilledBySignal

    def die_before_the_move(self: Any, target: Any) -> None:
        self._out.close()
        raise KilledBySignal

    with monkeypatch.context() as patch:
        patch.setattr(part_file, "discard", lambda self, log: None)
        if mid_stream:
            patch.setattr(part_file, "write", die_after_first_chunk)
        else:
            patch.setattr(part_file, "commit", die_before_the_move)
        with pytest.raises(KilledBySignal):
            op.execute(context)


@pytest.mark.parametrize("mid_stream", [True, False], ids=["mid-stream", "before-the-move"])
def test_the_next_try_removes_what_a_killed_try_left_on_local_disk_and_nothing_else(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mid_stream: bool
) -> None:
    evolink_task_id = create_task(emulator)
    stranger = tmp_path / f".{evolink_task_id}.mp4.part-0123456789abcdef"  # another run's or task's
    stranger.write_bytes(b"not ours")
    context = {"ti": SaveTaskInstance()}

    killed_try(monkeypatch, operator(str(tmp_path), evolink_task_id), context, mid_stream=mid_stream)
    left = [name for name in leftovers(tmp_path) if name != stranger.name]
    assert len(left) == 1
    assert left[0].startswith(f".{evolink_task_id}.mp4.part-")
    assert (tmp_path / left[0]).stat().st_size > 0

    operator(str(tmp_path), evolink_task_id).execute(context)

    assert leftovers(tmp_path) == sorted([stranger.name, f"{evolink_task_id}.mp4"])
    assert stranger.read_bytes() == b"not ours"
    stored = (tmp_path / f"{evolink_task_id}.mp4").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == emulator.result_sha256(evolink_task_id)


# ------------------------------------------------------------------------------- S3: no copy, no half object
LARGE_BYTES = (12 << 20) + 1234  # three 5 MiB parts, the last one short


@pytest.fixture(scope="module")
def large_emulator() -> Iterator[Any]:
    """An emulator whose results are 12 MiB blobs: several multipart parts on S3."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0, result_size_bytes=LARGE_BYTES) as emu:
        yield emu


@pytest.fixture
def large_task(large_emulator: Any, evolink_connection: Callable[..., str]) -> str:
    evolink_connection(large_emulator.base_url, large_emulator.api_key)
    return create_task(large_emulator)


def s3_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the S3 API calls s3fs makes from now on (every call goes through ``_call_s3``, or its sync
    wrapper ``call_s3``)."""
    from fsspec.asyn import sync_wrapper
    from s3fs import S3FileSystem

    calls: list[str] = []
    real = S3FileSystem._call_s3

    async def recording(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await real(self, method, *args, **kwargs)

    monkeypatch.setattr(S3FileSystem, "_call_s3", recording)
    monkeypatch.setattr(S3FileSystem, "call_s3", sync_wrapper(recording))
    return calls


def part_checksums(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(``ChecksumCRC32C`` sent, CRC32C of the bytes sent) of each ``UploadPart`` s3fs makes from now on."""
    from s3fs import S3FileSystem

    parts: list[tuple[str, str]] = []
    real = S3FileSystem._call_s3

    async def recording(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "upload_part":
            parts.append((kwargs.get("ChecksumCRC32C", ""), crc32c(bytes(kwargs["Body"]))))
        return await real(self, method, *args, **kwargs)

    monkeypatch.setattr(S3FileSystem, "_call_s3", recording)
    return parts


def uploads_of(target: ObjectStoragePath) -> list[str]:
    """IDs of the incomplete multipart uploads of exactly ``target``'s key."""
    bucket, key, _ = target.fs.split_path(target.path)
    answer = target.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key)
    return [upload["UploadId"] for upload in answer.get("Uploads", []) if upload["Key"] == key]


def test_a_large_result_cut_off_on_every_attempt_streams_into_its_s3_key_without_a_copy(
    large_emulator: Any, large_task: str, s3_bucket: str, no_backoff: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = f"s3://aws_moto@{s3_bucket}/resumed/{large_task}"
    calls = s3_calls(monkeypatch)
    parts = part_checksums(monkeypatch)
    large_emulator.set_faults(rate_cutoff=1.0)  # every body stops halfway: each resume gets half of what is left
    try:
        [uri] = operator(destination, large_task).execute({})
    finally:
        large_emulator.set_faults(rate_cutoff=0.0)

    statuses = [r["status"] for r in result_requests(large_emulator, large_task)]
    assert len(statuses) > 3
    assert statuses == [200] + [206] * (len(statuses) - 1)
    stored = ObjectStoragePath(uri)
    assert stored.stat()["size"] == LARGE_BYTES
    with stored.open("rb") as body:
        data = body.read()
    assert hashlib.sha256(data).hexdigest() == large_emulator.result_sha256(large_task)
    # Each part and the whole object were sent with their CRC32C (S3 refuses bytes that do not match it); S3 keeps
    # the whole object's, which moto computes from the bytes it joined.
    assert len(parts) == 3
    assert all(sent == actual for sent, actual in parts)
    assert s3_checksum(stored) == (crc32c(data), "FULL_OBJECT")
    # Streamed into the final key in parts and completed once: no temporary object copied into place.
    assert calls.count("upload_part") == 3
    assert calls.count("complete_multipart_upload") == 1
    assert "copy_object" not in calls
    assert "upload_part_copy" not in calls
    assert [path.name for path in ObjectStoragePath(destination).iterdir()] == [stored.name]  # marker deleted
    assert uploads_of(stored) == []


def big_body() -> bytes:
    return bytes(range(256)) * (LARGE_BYTES // 256) + bytes(LARGE_BYTES % 256)


@pytest.mark.parametrize("ending", ["cut-off", "short"])
def test_an_s3_save_that_fails_shows_no_object_and_leaves_no_upload(
    api: respx.MockRouter, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    destination = f"s3://aws_moto@{s3_bucket}/failed-{ending}"
    target = ObjectStoragePath(f"{destination}/{TASK_ID}.mp4")
    url = f"{CDN}/big.mp4"
    mock_task(api, [url])
    data = big_body()
    seen_during_the_stream: list[tuple[bool, int]] = []

    def first_answer(request: httpx.Request) -> httpx.Response:
        # 7 MiB of 12: one part sent to S3; then the body stops, cut off or short of its Content-Length.
        sent = data[: 7 << 20]
        stream = CutStream(sent) if ending == "cut-off" else httpx.ByteStream(sent)
        return httpx.Response(200, headers={"content-length": str(len(data))}, stream=stream)

    def expired(request: httpx.Request) -> httpx.Response:
        seen_during_the_stream.append((target.exists(), len(uploads_of(target))))
        return httpx.Response(410)

    api.get(url).mock(side_effect=[first_answer, expired])

    with pytest.raises(AirflowFailException, match="HTTP 410"):
        operator(destination).execute({})

    assert seen_during_the_stream == [(False, 1)]  # an upload of the key was under way, and no object
    assert not target.exists()
    assert uploads_of(target) == []  # aborted
    assert not ObjectStoragePath(destination).exists() or list(ObjectStoragePath(destination).iterdir()) == []


def test_a_host_that_ignores_range_restarts_the_s3_upload_from_zero(
    api: respx.MockRouter, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = f"s3://aws_moto@{s3_bucket}/restarted"
    url = f"{CDN}/big.mp4"
    mock_task(api, [url])
    data = big_body()
    headers = {"content-length": str(len(data))}
    api.get(url).mock(
        side_effect=[
            httpx.Response(200, headers=headers, stream=CutStream(data[: 7 << 20])),
            httpx.Response(200, headers=headers, content=data),  # the Range ignored: the whole file again
        ]
    )
    calls = s3_calls(monkeypatch)

    [uri] = operator(destination).execute({})

    stored = ObjectStoragePath(uri)
    assert stored.read_bytes() == data
    assert s3_checksum(stored) == (crc32c(data), "FULL_OBJECT")  # the restarted upload's CRC32C starts from zero
    assert calls.count("create_multipart_upload") == 2
    assert calls.count("abort_multipart_upload") == 1
    assert uploads_of(stored) == []
    assert [path.name for path in ObjectStoragePath(destination).iterdir()] == [stored.name]


KILLED_TRY = """
import os, signal, sys, time
from airflow.sdk import ObjectStoragePath
from airflow_provider_evolink.transfers import body
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

destination, evolink_task_id = sys.argv[1:]
target = ObjectStoragePath(f"{destination}/{evolink_task_id}.mp4")
real_iter_body = body.iter_body


def killed_once_a_part_is_stored(response):
    sent = 0
    for chunk in real_iter_body(response):
        yield chunk
        sent += len(chunk)
        if sent >= 11 << 20:  # two parts handed over: wait until S3 holds one, then die without any cleanup
            bucket, key, _ = target.fs.split_path(target.path)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                uploads = target.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key).get("Uploads", [])
                ours = [u["UploadId"] for u in uploads if u["Key"] == key]
                parts = [target.fs.call_s3("list_parts", Bucket=bucket, Key=key, UploadId=u) for u in ours]
                if any(answer.get("Parts") for answer in parts):
                    os.kill(os.getpid(), signal.SIGKILL)
            sys.exit("no upload of the final key holds a part")


body.iter_body = killed_once_a_part_is_stored


class SaveTaskInstance:
    dag_id, run_id, task_id, map_index = "evolink_demo", "manual__2026-11-30", "save", -1


EvoLinkToStorageOperator(task_id="store", evolink_task_id=evolink_task_id, destination=destination).execute(
    {"ti": SaveTaskInstance()}
)
"""


def test_the_next_try_aborts_the_upload_a_killed_try_left_on_s3_and_no_other(
    large_emulator: Any, large_task: str, s3_bucket: str
) -> None:
    import subprocess
    import sys

    destination = f"s3://aws_moto@{s3_bucket}/killed/{large_task}"
    target = ObjectStoragePath(f"{destination}/{large_task}.mp4")
    bucket, key, _ = target.fs.split_path(target.path)
    # Another task instance's upload of the same key, with its own marker: not this task instance's to touch.
    stranger = target.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)["UploadId"]
    stranger_marker = ObjectStoragePath(f"{destination}/.{large_task}.mp4.upload-0123456789abcdef")
    stranger_marker.write_bytes(stranger.encode())
    try:
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_TRY, destination, large_task], capture_output=True, timeout=120
        )
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        assert len(uploads_of(target)) == 2  # the killed try's, billed for its parts, and the stranger's
        assert not target.exists()

        [uri] = operator(destination, large_task).execute({"ti": SaveTaskInstance()})

        assert uploads_of(target) == [stranger]
        names = sorted(path.name for path in ObjectStoragePath(destination).iterdir())
        assert names == sorted([stranger_marker.name, target.name])  # the killed try's marker is gone
        with ObjectStoragePath(uri).open("rb") as stored:
            assert hashlib.sha256(stored.read()).hexdigest() == large_emulator.result_sha256(large_task)
    finally:
        target.fs.abort_mpu(bucket, key, stranger)


def test_an_s3_save_reports_the_stored_object_to_hook_lineage_and_not_its_marker(
    large_task: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_names import lineage

    collector = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: collector)

    [uri] = operator(f"s3://aws_moto@{s3_bucket}/lineage/{large_task}", large_task).execute({})

    assert [info.asset.uri for info in collector.collected_assets.outputs] == [uri]
    assert collector.collected_assets.inputs == []  # no temporary object moved from


def test_a_marker_left_after_its_upload_completed_is_deleted_by_the_next_try(emulator: Any, s3_bucket: str) -> None:
    # Killed between completing the upload and deleting its marker: the upload ID no longer exists.
    evolink_task_id = create_task(emulator)
    destination = f"s3://aws_moto@{s3_bucket}/completed/{evolink_task_id}"
    context = {"ti": SaveTaskInstance()}
    digest = sinks.instance_digest(context)
    marker = ObjectStoragePath(f"{destination}/.{evolink_task_id}.mp4.upload-{digest}")
    marker.write_bytes(b"an-upload-that-is-gone")

    [uri] = operator(destination, evolink_task_id).execute(context)

    assert [path.name for path in ObjectStoragePath(destination).iterdir()] == [f"{evolink_task_id}.mp4"]
    assert hashlib.sha256(ObjectStoragePath(uri).read_bytes()).hexdigest() == emulator.result_sha256(evolink_task_id)
