"""
Uploads through EvoLink's files API: ``POST /api/v1/files/upload/stream`` on the files host (connection extra
``files_base_url``, default ``https://files-api.evolink.ai``).

API source: EvoLink's file upload documents (``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API
(inputs)"): ``multipart/form-data`` with the binary ``file`` and optional ``upload_path`` / ``file_name``; the answer is
HTTP 200 with ``{"success", "code", "msg", "data": {"file_id", "file_url", "download_url", "mime_type", "file_size",
"expires_at", ...}}``, where ``success: false`` (quota used up, type refused) is an error. Files expire 72 h after
the upload and count against a small per-account quota.

Retries: an upload is not idempotent (each stored file uses quota and gets a new ``file_url``), so it is re-sent
only when the first attempt certainly stored nothing: the connection could not be opened (connect error or
connect timeout) or the server answered 429 (refused before reading). A 5xx, a read timeout or a dropped
connection after the body was sent may have stored the file: that is reported, never re-sent.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mimetypes
import os
from collections.abc import Iterator
from typing import IO, Any

import httpx
import pydantic

from airflow_provider_evolink import retry
from airflow_provider_evolink.exceptions import (
    EvoLinkError,
    EvoLinkInputError,
    EvoLinkResponseError,
    EvoLinkTransportError,
    EvoLinkUploadError,
)
from airflow_provider_evolink.hooks.responses import api_error, transport_error
from airflow_provider_evolink.hooks.settings import ConnectionSettings
from airflow_provider_evolink.http_statuses import RESENDABLE_UPLOAD_STATUSES
from airflow_provider_evolink.models.responses import UploadedFile, UploadResponse

log = logging.getLogger(__name__)

__all__ = ["UPLOAD_STREAM_PATH", "as_location", "media_type", "open_source", "upload"]

UPLOAD_STREAM_PATH = "/api/v1/files/upload/stream"
#: Bytes read from the start of a file to tell its type.
SNIFF_BYTES = 32

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"ID3", "audio/mpeg"),
)


def media_type(head: bytes, name: str) -> str:
    """The media type of a file from its first bytes (JPEG, PNG, GIF, WebP, MP4/QuickTime, WebM, MP3), else from
    its name's extension; ``application/octet-stream`` when neither tells."""
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@contextlib.contextmanager
def open_source(source: Any, describe: str | None = None) -> Iterator[tuple[str, IO[bytes]]]:
    """``(file name, binary stream)`` of an upload source; the stream is closed on exit.

    :param describe: how error messages name the source (default: the source itself).
    :raises EvoLinkInputError: the file or object does not exist or is not a file.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        yield "upload.bin", io.BytesIO(bytes(source))
        return
    where = describe or str(source)
    path = as_location(source)
    try:
        stream = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise EvoLinkInputError(f"{where}: no such file or object") from None
    with stream:
        yield path.name, stream


def as_location(source: Any) -> Any:
    """A ``pathlib.Path`` for a local path or ``file://`` URI, an ``ObjectStoragePath`` for anything else."""
    from pathlib import Path
    from urllib.parse import unquote, urlsplit

    if hasattr(source, "protocol") and hasattr(source, "storage_options"):
        return source
    text = os.fspath(source)
    parts = urlsplit(text)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.scheme:
        return Path(text)
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(text)


def upload(
    client: httpx.Client,
    source: Any,
    *,
    file_name: str | None,
    upload_path: str | None,
    settings: ConnectionSettings,
) -> UploadedFile:
    """Stream ``source`` to ``POST /api/v1/files/upload/stream`` through ``client`` (the files host, bearer auth)
    and return the stored file. Memory stays flat in the file size: httpx sends the file 64 KiB at a time. See the
    module docstring for when an upload is re-sent (at most ``settings.max_retries`` times, with the provider's
    backoff).

    :raises EvoLinkInputError: the source does not exist.
    :raises EvoLinkUploadError: ``success: false`` (``code``/``msg`` of the answer).
    :raises EvoLinkAPIError: a non-2xx answer. :raises EvoLinkTransportError: no answer.
    :raises EvoLinkResponseError: a 2xx answer that is not the documented envelope.
    """
    form = {name: value for name, value in (("file_name", file_name), ("upload_path", upload_path)) if value}
    policy = settings.retry_policy
    retry_number = 1
    while True:
        try:
            response = _post(client, source, file_name, form)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            failure: EvoLinkError = transport_error("POST", UPLOAD_STREAM_PATH, error, settings.api_key)
        except httpx.TransportError as error:
            raise EvoLinkTransportError(
                f"POST {UPLOAD_STREAM_PATH}: the answer was lost after the file was sent "
                f"({type(error).__name__}); it may have been stored and used quota, so it is not re-sent"
            ) from None
        else:
            if response.is_success:
                return _parse_upload(response)
            failure = api_error(response, settings.api_key)
            if failure.status_code not in RESENDABLE_UPLOAD_STATUSES:
                raise failure
        if retry_number > policy.max_retries:
            raise failure
        wait = policy.backoff(retry_number, failure)
        log.warning(
            "EvoLink upload failed before anything was stored (%s); retry %d in %.1f s", failure, retry_number, wait
        )
        retry.sleep(wait)
        retry_number += 1


def _post(client: httpx.Client, source: Any, file_name: str | None, form: dict[str, str]) -> httpx.Response:
    """One upload attempt, the source opened afresh (a re-send starts from its first byte)."""
    with open_source(source) as (name, stream):
        head = stream.read(SNIFF_BYTES)
        stream.seek(0)
        part = (file_name or name, stream, media_type(head, file_name or name))
        return client.post(UPLOAD_STREAM_PATH, files={"file": part}, data=form)


def _parse_upload(response: httpx.Response) -> UploadedFile:
    request_id = response.headers.get("x-request-id")
    try:
        envelope = UploadResponse.model_validate_json(response.content)
    except pydantic.ValidationError:
        raise EvoLinkResponseError(
            f"unexpected answer to POST {UPLOAD_STREAM_PATH} (HTTP {response.status_code}, "
            f"{len(response.content)} bytes): not the files API envelope",
            request_id=request_id,
        ) from None
    if not envelope.success or envelope.data is None:
        raise EvoLinkUploadError(envelope.code, envelope.msg, request_id=request_id)
    return envelope.data
