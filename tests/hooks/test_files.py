"""EvoLinkHook.upload_file: streamed uploads to the files host, the success: false envelope, when it re-sends."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_evolink import retry
from airflow_provider_evolink.emulator import EvoLinkEmulator, media
from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkInputError,
    EvoLinkRateLimitError,
    EvoLinkServerError,
    EvoLinkTransportError,
    EvoLinkUploadError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook

FILES = "https://files.evolink.test"
UPLOAD = f"{FILES}/api/v1/files/upload/stream"
STORED = {
    "success": True,
    "code": 200,
    "msg": "ok",
    "data": {
        "file_id": "file_abc123",
        "file_url": "https://files.evolink.test/images/secret-name.jpg",
        "download_url": "https://files.evolink.test/api/v1/files/download/file_abc123",
        "mime_type": "image/jpeg",
        "file_size": 3,
        "expires_at": "2026-12-03T12:00:00+00:00",
    },
}


@pytest.fixture
def emu_hook(emulator: EvoLinkEmulator, evolink_connection: Callable[..., str]) -> EvoLinkHook:
    conn_id = evolink_connection(
        emulator.base_url, emulator.api_key, "evolink_files", files_base_url=emulator.files_base_url
    )
    return EvoLinkHook(conn_id)


@pytest.fixture
def mocked_hook(evolink_connection: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> EvoLinkHook:
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    return EvoLinkHook(evolink_connection("https://api.evolink.test", "sk-test", "evolink_mock", files_base_url=FILES))


def test_files_base_url_defaults_to_evolinks_files_host(evolink_connection: Callable[..., str]) -> None:
    assert EvoLinkHook(evolink_connection(None, "sk-test")).settings.files_base_url == "https://files-api.evolink.ai"


def test_a_bad_files_base_url_is_a_config_error_naming_the_extra(evolink_connection: Callable[..., str]) -> None:
    hook = EvoLinkHook(evolink_connection(None, "sk-test", files_base_url="ftp://files.example.com"))
    with pytest.raises(EvoLinkConfigError, match="files_base_url"):
        _ = hook.settings


@pytest.mark.parametrize("form", ["path", "str", "uri", "object", "bytes"])
def test_every_source_form_is_uploaded_and_served(emu_hook: EvoLinkHook, tmp_path: Path, form: str) -> None:
    data = media.character_image().data
    local = tmp_path / "hero.jpg"
    local.write_bytes(data)
    sources: dict[str, Any] = {"path": local, "str": str(local), "uri": local.as_uri(), "bytes": data}
    if form == "object":
        from airflow.sdk import ObjectStoragePath
        from airflow.sdk.io import attach
        from fsspec.implementations.memory import MemoryFileSystem

        attach("memory", fs=MemoryFileSystem())
        sources["object"] = ObjectStoragePath(f"memory://uploads-{tmp_path.name}/hero.jpg")
        sources["object"].parent.mkdir(parents=True, exist_ok=True)
        sources["object"].write_bytes(data)
    uploaded = emu_hook.upload_file(sources[form], file_name=f"{form}.jpg", upload_path="characters")
    assert uploaded.mime_type == "image/jpeg"
    assert uploaded.file_size == len(data)
    assert uploaded.expires_at is not None
    assert uploaded.file_url.endswith(f"/characters/{form}.jpg")
    assert httpx.get(uploaded.file_url).content == data
    assert uploaded.file_url not in repr(uploaded)
    assert str(uploaded.download_url) not in repr(uploaded)
    assert uploaded.file_id not in repr(uploaded)


def test_a_missing_local_file_is_an_input_error_and_nothing_is_sent(emu_hook: EvoLinkHook, tmp_path: Path) -> None:
    with pytest.raises(EvoLinkInputError, match="no such file"):
        emu_hook.upload_file(tmp_path / "missing.jpg")


def test_a_large_upload_streams_with_flat_memory(emu_hook: EvoLinkHook, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as file:
        file.write(b"\0\0\0\x18ftypisom")
        for _ in range(40):
            file.write(b"\0" * (1024 * 1024))
    tracemalloc.start()
    try:
        uploaded = emu_hook.upload_file(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uploaded.file_size == big.stat().st_size
    # Client and the in-process emulator together stay far under the 40 MiB file.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 40 MiB upload"


@respx.mock
def test_success_false_is_an_upload_error_with_code_and_msg(mocked_hook: EvoLinkHook) -> None:
    route = respx.post(UPLOAD).respond(200, json={"success": False, "code": 403, "msg": "File quota exceeded"})
    with pytest.raises(EvoLinkUploadError) as caught:
        mocked_hook.upload_file(b"\xff\xd8\xff")
    assert (caught.value.code, caught.value.msg) == ("403", "File quota exceeded")
    assert caught.value.retryable is False
    assert route.call_count == 1


@respx.mock
def test_the_upload_carries_the_key_only_to_the_files_host(mocked_hook: EvoLinkHook) -> None:
    route = respx.post(UPLOAD).respond(200, json=STORED)
    mocked_hook.upload_file(b"\xff\xd8\xff", file_name="a.jpg")
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-test"
    assert b'name="file_name"' in request.content
    assert b"Content-Type: image/jpeg" in request.content


@respx.mock
def test_a_429_or_a_connect_failure_is_re_sent_because_nothing_was_stored(mocked_hook: EvoLinkHook) -> None:
    route = respx.post(UPLOAD)
    route.side_effect = [
        httpx.Response(429, json={"error": {"code": "rate_limit_exceeded", "message": "slow", "type": "x"}}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=STORED),
    ]
    assert mocked_hook.upload_file(b"\xff\xd8\xff").file_id == "file_abc123"
    assert route.call_count == 3


@respx.mock
def test_a_429_that_outlasts_the_retries_is_raised(mocked_hook: EvoLinkHook) -> None:
    respx.post(UPLOAD).respond(429, json={"error": {"code": "rate_limit_exceeded", "message": "slow", "type": "x"}})
    with pytest.raises(EvoLinkRateLimitError):
        mocked_hook.upload_file(b"\xff\xd8\xff")


@respx.mock
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(500, json={"error": {"code": "internal_error", "message": "x", "type": "x"}}),
            EvoLinkServerError,
        ),
        (httpx.ReadTimeout("lost"), EvoLinkTransportError),
        (httpx.RemoteProtocolError("dropped"), EvoLinkTransportError),
    ],
)
def test_a_failure_after_the_body_was_sent_is_never_re_sent(
    mocked_hook: EvoLinkHook, answer: Any, error: type[Exception]
) -> None:
    route = respx.post(UPLOAD)
    route.side_effect = [answer, httpx.Response(200, json=STORED)]
    with pytest.raises(error):
        mocked_hook.upload_file(b"\xff\xd8\xff")
    assert route.call_count == 1


@respx.mock
def test_a_2xx_answer_that_is_not_the_envelope_is_a_response_error(mocked_hook: EvoLinkHook) -> None:
    from airflow_provider_evolink.exceptions import EvoLinkResponseError

    respx.post(UPLOAD).respond(200, text="<html>proxy</html>")
    with pytest.raises(EvoLinkResponseError, match="not the files API envelope"):
        mocked_hook.upload_file(b"\xff\xd8\xff")
