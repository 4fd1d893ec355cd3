"""The emulator's files API, on its own port: uploads (stream, base64, URL), serving, quota, expiry, refusals."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator, media

STREAM = "/api/v1/files/upload/stream"
BASE64 = "/api/v1/files/upload/base64"
URL = "/api/v1/files/upload/url"
QUOTA = "/api/v1/files/quota"
LIST = "/api/v1/files/list"
JPEG = media.character_image().data


@pytest.fixture
def files() -> Iterator[Callable[..., tuple[EvoLinkEmulator, httpx.Client]]]:
    """Start an emulator with the given settings; returns it with an authenticated client of its files host."""
    running: list[tuple[EvoLinkEmulator, httpx.Client]] = []

    def start(**settings: Any) -> tuple[EvoLinkEmulator, httpx.Client]:
        emu = EvoLinkEmulator(**settings).start()
        client = httpx.Client(
            base_url=emu.files_base_url, headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=10
        )
        running.append((emu, client))
        return emu, client

    yield start
    for emu, client in running:
        client.close()
        emu.stop()


def test_the_files_api_listens_on_its_own_port_not_the_api_host(files: Callable[..., Any]) -> None:
    emu, client = files()
    assert emu.files_base_url != emu.base_url
    assert client.post(STREAM, files={"file": ("c.jpg", JPEG, "image/jpeg")}).json()["success"] is True
    assert httpx.post(f"{emu.base_url}{STREAM}", files={"file": ("c.jpg", JPEG)}).status_code == 404


def test_a_stream_upload_answers_the_documented_envelope_and_serves_the_file_without_auth(
    files: Callable[..., Any],
) -> None:
    emu, client = files()
    answer = client.post(STREAM, files={"file": ("hero.jpg", JPEG, "image/jpeg")}, data={"upload_path": "chars"})
    body = answer.json()
    assert answer.status_code == 200
    assert body["success"] is True
    assert body["code"] == 200
    data = body["data"]
    assert data["file_id"].startswith("file_")
    assert data["file_size"] == len(JPEG)
    assert data["mime_type"] == "image/jpeg"
    assert data["upload_path"] == "chars"
    assert data["original_name"] == "hero.jpg"
    assert data["file_url"].startswith(f"{emu.files_base_url}/chars/")
    assert data["download_url"].endswith(f"/api/v1/files/download/{data['file_id']}")
    assert 71.9 * 3600 < _epoch(data["expires_at"]) - _epoch(data["upload_time"]) <= 72 * 3600
    for link in (data["file_url"], data["download_url"]):
        served = httpx.get(link)
        assert served.status_code == 200
        assert served.content == JPEG
        assert served.headers["content-type"] == "image/jpeg"


def test_base64_uploads_take_raw_base64_or_a_data_url(files: Callable[..., Any]) -> None:
    _, client = files()
    raw = base64.b64encode(JPEG).decode()
    for payload in (raw, f"data:image/jpeg;base64,{raw}"):
        data = client.post(BASE64, json={"base64_data": payload, "file_name": "b64.jpg"}).json()["data"]
        assert data["mime_type"] == "image/jpeg"
        assert httpx.get(data["file_url"]).content == JPEG


def test_url_uploads_download_the_public_file(files: Callable[..., Any], emulator: EvoLinkEmulator) -> None:
    _, client = files()
    data = client.post(URL, json={"file_url": f"{emulator.base_url}/samples/reference.mp4"}).json()["data"]
    assert data["mime_type"] == "video/mp4"
    assert httpx.get(data["file_url"]).content == media.reference_video().data


def test_the_quota_is_answered_with_success_false_and_frees_up_on_delete(files: Callable[..., Any]) -> None:
    _, client = files(file_quota=2)
    ids = [client.post(STREAM, files={"file": ("c.jpg", JPEG)}).json()["data"]["file_id"] for _ in range(2)]
    assert client.get(QUOTA).json()["data"] == {"used_files": 2, "max_files": 2, "remain_files": 0}

    refused = client.post(STREAM, files={"file": ("c.jpg", JPEG)})
    assert refused.status_code == 200
    assert refused.json()["success"] is False
    assert refused.json()["code"] == 403
    assert "quota" in refused.json()["msg"]

    assert client.delete(f"/api/v1/files/{ids[0]}").json()["success"] is True
    assert client.post(STREAM, files={"file": ("c.jpg", JPEG)}).json()["success"] is True


def test_the_list_pages_the_keys_files_newest_first_with_the_total(files: Callable[..., Any]) -> None:
    _, client = files()
    uploaded = [
        client.post(STREAM, files={"file": (f"c{i}.jpg", JPEG)}, data={"file_name": f"c{i}.jpg"}).json()["data"]
        for i in range(3)
    ]

    first = client.get(LIST, params={"page": 1, "pageSize": 2}).json()
    second = client.get(LIST, params={"page": 2, "pageSize": 2}).json()

    assert first["success"] is True
    assert first["data"]["total"] == second["data"]["total"] == 3
    listed = first["data"]["files"] + second["data"]["files"]
    assert [entry["file_id"] for entry in listed] == [data["file_id"] for data in reversed(uploaded)]
    assert listed[0] == {
        "file_id": uploaded[2]["file_id"],
        "file_name": "c2.jpg",
        "file_size": len(JPEG),
        "upload_time": uploaded[2]["upload_time"],
    }
    assert client.get(LIST).json()["data"]["total"] == 3  # page 1, 20 a page by default


def test_the_list_shows_only_the_callers_unexpired_files(files: Callable[..., Any]) -> None:
    _, client = files(file_ttl_seconds=0.5)
    client.post(STREAM, files={"file": ("c.jpg", JPEG)})
    assert client.get(LIST).json()["data"]["total"] == 1
    time.sleep(0.7)
    assert client.get(LIST).json()["data"] == {"total": 0, "files": []}
    assert httpx.get(f"{client.base_url}{LIST}").status_code == 401


@pytest.mark.parametrize("query", [{"page": "0"}, {"pageSize": "-1"}, {"page": "two"}])
def test_a_bad_page_or_page_size_is_refused_naming_it(files: Callable[..., Any], query: dict[str, str]) -> None:
    _, client = files()
    refused = client.get(LIST, params=query).json()
    assert (refused["success"], refused["code"]) == (False, 400)
    assert next(iter(query)) in refused["msg"]


def test_files_expire_after_their_lifetime_and_stop_counting(files: Callable[..., Any]) -> None:
    _, client = files(file_ttl_seconds=0.5, file_quota=1)
    url = client.post(STREAM, files={"file": ("c.jpg", JPEG)}).json()["data"]["file_url"]
    assert httpx.get(url).status_code == 200
    time.sleep(0.7)
    assert httpx.get(url).status_code == 404
    assert client.post(STREAM, files={"file": ("c.jpg", JPEG)}).json()["success"] is True


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "image/png"),
        ("a.gif", b"GIF89a" + b"\0" * 16, "image/gif"),
        ("a.webp", b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        ("a.mov", b"\0\0\0\x14ftypqt  ", "video/quicktime"),
        ("a.mp3", b"ID3\x04" + b"\0" * 16, "audio/mpeg"),
    ],
)
def test_the_union_of_documented_types_is_accepted(
    files: Callable[..., Any], name: str, content: bytes, kind: str
) -> None:
    _, client = files()
    data = client.post(STREAM, files={"file": (name, content)}).json()["data"]
    assert data["mime_type"] == kind


def test_other_types_are_refused_with_success_false(files: Callable[..., Any]) -> None:
    _, client = files()
    body = client.post(STREAM, files={"file": ("notes.txt", b"hello", "text/plain")}).json()
    assert body["success"] is False
    assert body["code"] == 400
    assert "text/plain" in body["msg"]
    assert client.get(QUOTA).json()["data"]["used_files"] == 0


def test_uploads_need_the_api_key(files: Callable[..., Any]) -> None:
    emu, _ = files()
    answer = httpx.post(f"{emu.files_base_url}{STREAM}", files={"file": ("c.jpg", JPEG)})
    assert answer.status_code == 401
    assert answer.json()["success"] is False


def test_the_request_log_tells_the_files_host_apart(files: Callable[..., Any]) -> None:
    emu, client = files()
    client.post(STREAM, files={"file": ("c.jpg", JPEG)})
    httpx.get(f"{emu.base_url}/v1/credits")
    assert [(e["host"], e["path"]) for e in emu.requests()] == [("files", STREAM), ("api", "/v1/credits")]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
