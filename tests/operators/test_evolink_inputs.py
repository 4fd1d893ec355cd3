"""Media inputs from private object storage and local files, resolved by EvoLinkGenerateVideoOperator.

Against the emulator (which fetches every input like EvoLink) and moto's S3 server with authentication on.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from fakes import FakeTaskInstance, FakeTaskStateStore, SimulatedCrash, context_of

from airflow_provider_evolink.emulator import EvoLinkEmulator, media
from airflow_provider_evolink.exceptions import EvoLinkConfigError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.inputs import unseal
from airflow_provider_evolink.never_pay_twice import STATE_SUBMISSION, STATE_TASK_ID
from airflow_provider_evolink.operators.evolink import DEFAULT_INPUT_LINK_EXPIRATION, EvoLinkGenerateVideoOperator

CREATE = "/v1/videos/generations"
UPLOAD = "/api/v1/files/upload/stream"


@pytest.fixture(scope="module")
def emu() -> Iterator[EvoLinkEmulator]:
    """An emulator of this module's own (instant tasks, input fetching on), so its request log is ours alone."""
    with EvoLinkEmulator(processing_seconds=0.0) as emulator:
        yield emulator


@pytest.fixture
def conn_id(emu: EvoLinkEmulator, evolink_connection: Callable[..., str]) -> str:
    return evolink_connection(
        emu.base_url, emu.api_key, "evolink_inputs", max_retries=0, files_base_url=emu.files_base_url
    )


@pytest.fixture
def s3_object(s3_bucket: str) -> Callable[[bytes, str], str]:
    """``put(data, suffix)``: store ``data`` as a private object; returns its ``s3://aws_moto@bucket/key`` URI."""
    from airflow.sdk import ObjectStoragePath

    def put(data: bytes, suffix: str) -> str:
        uri = f"s3://aws_moto@{s3_bucket}/inputs/{uuid.uuid4().hex}{suffix}"
        ObjectStoragePath(uri).write_bytes(data)
        return uri

    return put


def motion(image: str, video: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": "kling-v3-motion-control",
        "prompt": f"dance {uuid.uuid4().hex[:8]}",
        "image_urls": [image],
        "video_urls": [video],
        "model_params": {"character_orientation": "image"},
        **fields,
    }


def run(request: dict[str, Any], conn_id: str, store: FakeTaskStateStore | None = None, **kwargs: Any) -> str:
    operator = EvoLinkGenerateVideoOperator(
        task_id="generate", request=request, evolink_conn_id=conn_id, poll_interval=0.05, **kwargs
    )
    result: str = operator.execute(context_of(FakeTaskInstance(), store or FakeTaskStateStore()))
    return result


def log_since(emu: EvoLinkEmulator, start: int) -> list[dict[str, Any]]:
    return emu.requests()[start:]


def creates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["host"] == "api" and e["method"] == "POST" and e["path"] == CREATE]


def uploads(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["host"] == "files" and e["path"] == UPLOAD]


@pytest.fixture
def sample_video(emu: EvoLinkEmulator) -> str:
    return f"{emu.base_url}/samples/reference.mp4"


@pytest.fixture
def local_image(tmp_path: Path) -> Path:
    path = tmp_path / "character.jpg"
    path.write_bytes(media.character_image().data)
    return path


# ---------------------------------------------------------------------------------------- object storage
def test_an_unsigned_private_s3_object_fails_at_the_emulator_with_resource_not_found(
    emu: EvoLinkEmulator, conn_id: str, s3_object: Callable[[bytes, str], str], sample_video: str
) -> None:
    from airflow.sdk import ObjectStoragePath

    uri = s3_object(media.character_image().data, ".jpg")
    path = ObjectStoragePath(uri)
    endpoint = json.loads(os.environ["AIRFLOW_CONN_AWS_MOTO"])["extra"]["endpoint_url"]
    public_form = f"{endpoint}/{path.bucket}/{path.key}"  # what sending the object "as is" would mean
    hook = EvoLinkHook(conn_id)
    task = hook.create_video_generation(motion(public_form, sample_video))
    detail = hook.get_task(task.id)
    assert detail.status == "failed"
    assert detail.error is not None
    assert detail.error.code == "resource_not_found"
    assert "image_urls[0]" in (detail.error.message or "")
    assert "HTTP 403" in (detail.error.message or "")


def test_a_private_s3_object_is_signed_fetched_without_credentials_and_the_task_completes(
    emu: EvoLinkEmulator, conn_id: str, s3_object: Callable[[bytes, str], str], sample_video: str
) -> None:
    uri = s3_object(media.character_image().data, ".jpg")
    start = len(emu.requests())
    evolink_task_id = run(motion(uri, sample_video), conn_id, wait_for_completion=True)

    assert EvoLinkHook(conn_id).get_task(evolink_task_id).status == "completed"
    entries = log_since(emu, start)
    assert len(creates(entries)) == 1
    assert uploads(entries) == []  # S3 signs: nothing is uploaded


def test_a_store_that_cannot_sign_is_uploaded_instead(emu: EvoLinkEmulator, conn_id: str, sample_video: str) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())
    path = ObjectStoragePath(f"memory://inputs-{uuid.uuid4().hex}/character.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png(480, 640))
    start = len(emu.requests())
    run(motion(path, sample_video), conn_id, wait_for_completion=True)
    assert len(uploads(log_since(emu, start))) == 1


# -------------------------------------------------------------------------------------------- local files
def test_a_local_file_used_twice_is_uploaded_once_and_the_task_completes(
    emu: EvoLinkEmulator, conn_id: str, local_image: Path, sample_video: str
) -> None:
    request = {
        "model": "kling-o3-reference-to-video",
        "prompt": f"a fox {uuid.uuid4().hex[:8]}",
        "video_url": sample_video,
        "image_urls": [str(local_image), local_image.as_uri()],
    }
    start = len(emu.requests())
    evolink_task_id = run(request, conn_id, wait_for_completion=True)

    entries = log_since(emu, start)
    assert len(uploads(entries)) == 1  # a path and a file:// URI of one file: one source
    assert EvoLinkHook(conn_id).get_task(evolink_task_id).status == "completed"


def test_the_hook_refuses_to_send_unresolved_inputs(emu: EvoLinkEmulator, conn_id: str, sample_video: str) -> None:
    start = len(emu.requests())
    with pytest.raises(EvoLinkConfigError, match="resolve them first"):
        EvoLinkHook(conn_id).create_video_generation(motion("/tmp/character.jpg", sample_video))
    assert log_since(emu, start) == []


# ------------------------------------------------------------------------------- refused before anything
def test_a_missing_object_fails_naming_field_and_uri_with_no_upload_and_no_post(
    emu: EvoLinkEmulator, conn_id: str, s3_bucket: str, local_image: Path
) -> None:
    missing = f"s3://aws_moto@{s3_bucket}/inputs/missing-{uuid.uuid4().hex}.mp4"
    start = len(emu.requests())
    with pytest.raises(AirflowFailException) as caught:
        run(motion(str(local_image), missing), conn_id)
    assert "video_urls[0]" in str(caught.value)
    assert missing in str(caught.value)
    assert "does not exist" in str(caught.value)
    assert log_since(emu, start) == []  # the local image was not uploaded either


def test_a_type_the_field_refuses_fails_with_no_upload_and_no_post(
    emu: EvoLinkEmulator, conn_id: str, tmp_path: Path, sample_video: str
) -> None:
    gif = tmp_path / "character.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 64)
    start = len(emu.requests())
    with pytest.raises(AirflowFailException) as caught:
        run(motion(str(gif), sample_video), conn_id)
    assert f"image_urls[0]: {gif} is image/gif, but this field takes a JPEG or PNG image" in str(caught.value)
    assert log_since(emu, start) == []


def test_an_oversized_image_fails_with_the_field_limit(
    emu: EvoLinkEmulator, conn_id: str, tmp_path: Path, sample_video: str
) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024))
    with pytest.raises(AirflowFailException, match=r"image_urls\[0\]: .* over this field's 10 MB limit"):
        run(motion(str(big), sample_video), conn_id)


def test_an_exhausted_upload_quota_fails_with_code_and_msg_and_no_post(
    evolink_connection: Callable[..., str], local_image: Path
) -> None:
    with EvoLinkEmulator(processing_seconds=0.0, file_quota=0) as full:
        conn = evolink_connection(full.base_url, full.api_key, "evolink_full", files_base_url=full.files_base_url)
        with pytest.raises(AirflowFailException) as caught:
            run(motion(str(local_image), f"{full.base_url}/samples/reference.mp4"), conn)
        assert "[403]" in str(caught.value)
        assert "quota" in str(caught.value)
        assert creates(full.requests()) == []
        assert len(uploads(full.requests())) == 1


def test_an_over_budget_request_resolves_nothing(
    emu: EvoLinkEmulator, conn_id: str, local_image: Path, sample_video: str
) -> None:
    start = len(emu.requests())
    with pytest.raises(AirflowFailException, match="exceeds max_credits"):
        run(motion(str(local_image), sample_video), conn_id, max_credits=1)
    assert log_since(emu, start) == []


# ------------------------------------------------------------------------------------------------ retries
def test_a_crash_between_the_post_and_storing_the_id_replays_the_same_body_and_makes_one_task(
    emu: EvoLinkEmulator, conn_id: str, local_image: Path, s3_object: Callable[[bytes, str], str]
) -> None:
    video = s3_object(media.reference_video().data, ".mp4")
    request = motion(str(local_image), video)
    store = FakeTaskStateStore(crash_on_set=(STATE_TASK_ID,))
    start = len(emu.requests())
    with pytest.raises(SimulatedCrash):
        run(request, conn_id, store)
    evolink_task_id = run(request, conn_id, store)  # the retry, in a new operator

    entries = log_since(emu, start)
    posts = creates(entries)
    assert [post["status"] for post in posts] == [200, 200]
    assert len({post["idempotency_key"] for post in posts}) == 1
    assert {post["task_id"] for post in posts} == {evolink_task_id}  # replayed, not a second task
    assert len(uploads(entries)) == 1  # the retry re-used the uploaded file instead of uploading again


def test_the_stored_submission_keeps_links_sealed_with_the_api_key(
    emu: EvoLinkEmulator, conn_id: str, local_image: Path, sample_video: str
) -> None:
    store = FakeTaskStateStore(crash_on_set=(STATE_TASK_ID,))
    with pytest.raises(SimulatedCrash):
        run(motion(str(local_image), sample_video), conn_id, store)
    submission = store.values[STATE_SUBMISSION]
    stored_text = json.dumps(store.values)
    assert "/images/" not in stored_text
    assert emu.files_base_url not in stored_text
    resolved = unseal(submission["sealed_request"], emu.api_key)
    assert resolved is not None
    assert resolved.body["image_urls"][0].startswith(emu.files_base_url)
    assert unseal(submission["sealed_request"], "sk-another-key") is None


def test_the_request_hash_is_of_the_users_uris_so_a_retry_reconnects(
    emu: EvoLinkEmulator, conn_id: str, s3_object: Callable[[bytes, str], str], sample_video: str
) -> None:
    uri = s3_object(media.character_image().data, ".jpg")
    request = motion(uri, sample_video)
    store = FakeTaskStateStore()
    store.clear = lambda: None  # type: ignore[method-assign]  # keep the state as after a failed later step
    first = run(request, conn_id, store)
    start = len(emu.requests())
    assert run(request, conn_id, store) == first  # links were re-made? no: reconnected by the URIs' hash
    assert creates(log_since(emu, start)) == []


def test_the_rendered_request_keeps_the_uris_and_no_xcom_holds_a_link(
    emu: EvoLinkEmulator, conn_id: str, local_image: Path, sample_video: str
) -> None:
    request = motion(str(local_image), sample_video)
    operator = EvoLinkGenerateVideoOperator(
        task_id="generate", request=request, evolink_conn_id=conn_id, wait_for_completion=True, poll_interval=0.05
    )
    ti = FakeTaskInstance()
    operator.execute(context_of(ti, FakeTaskStateStore()))
    assert operator.request["image_urls"] == [str(local_image)]
    assert emu.files_base_url not in json.dumps(ti.xcoms, default=str)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, 7 * 24 * 3600 + 1])
def test_input_link_expiration_must_be_whole_seconds_up_to_seven_days(value: Any) -> None:
    with pytest.raises(ValueError, match="input_link_expiration"):
        EvoLinkGenerateVideoOperator(task_id="generate", request={}, input_link_expiration=value)


def test_input_link_expiration_defaults_to_six_hours() -> None:
    operator = EvoLinkGenerateVideoOperator(task_id="generate", request={})
    assert operator.input_link_expiration == DEFAULT_INPUT_LINK_EXPIRATION == 6 * 3600


def _png(width: int, height: int) -> bytes:
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="image2pipe") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        frame = av.VideoFrame(width, height, "rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def test_the_s3_server_checks_signed_links_so_a_signed_success_proves_something(
    s3_object: Callable[[bytes, str], str],
) -> None:
    import httpx
    from airflow.sdk import ObjectStoragePath

    link = ObjectStoragePath(s3_object(b"\xff\xd8\xff private", ".jpg")).sign(expiration=60)
    assert httpx.get(link).status_code == 200
    assert httpx.get(link.split("?")[0]).status_code == 403  # unsigned
    signature = link.rpartition("Signature=")[2].split("&")[0]
    forged = link.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:])
    assert httpx.get(forged).status_code == 403


def test_the_s3_server_checks_sigv4_signed_links_too(s3_object: Callable[[bytes, str], str]) -> None:
    import boto3
    import httpx
    from botocore.config import Config

    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_MOTO"])
    client = boto3.client(
        "s3",
        endpoint_url=connection["extra"]["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id=connection["login"],
        aws_secret_access_key=connection["password"],
        config=Config(signature_version="s3v4"),
    )
    bucket, _, key = s3_object(b"\xff\xd8\xff private", ".jpg").removeprefix("s3://aws_moto@").partition("/")
    link = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    assert "X-Amz-Signature=" in link
    assert httpx.get(link).status_code == 200
    signature = link.rpartition("X-Amz-Signature=")[2]
    forged = link.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert httpx.get(forged).status_code == 403
