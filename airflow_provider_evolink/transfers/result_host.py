"""
The hosts that serve EvoLink's results: how their answers are read (status, byte range, file name) and how a
signed result link is kept out of logs and messages.

Result links live 24 h, are served by CDN hosts that must never see the API key, and are signed: secrets in logs
(``airflow_provider_evolink/api_reference/evolink-api.md``, "Results").
"""

from __future__ import annotations

import functools
import mimetypes
import posixpath
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow.sdk.log import mask_secret

from airflow_provider_evolink.exceptions import EvoLinkResultHostError
from airflow_provider_evolink.hooks.responses import parse_retry_after
from airflow_provider_evolink.http_statuses import EXPIRED_LINK_STATUSES, RETRYABLE_RESULT_HOST_STATUSES

if TYPE_CHECKING:
    import httpx

    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = ["RESULT_LINK_LIFETIME", "body_range", "check_status", "file_name", "mask_url"]

#: How long EvoLink result links stay valid (``airflow_provider_evolink/api_reference/evolink-api.md``, "Results").
RESULT_LINK_LIFETIME = timedelta(hours=24)
_DEFAULT_EXTENSION = "mp4"
# Content-Types that say nothing about the format: fall back to the URL path.
_GENERIC_CONTENT_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/binary"})
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def check_status(response: httpx.Response, label: str, detail: TaskDetail) -> None:
    """Raise for a result-host answer that carries no result; its message never holds the signed URL.

    :raises EvoLinkResultHostError: 403/404/410 (expired link), 408/429/5xx (retryable), anything else not 2xx.
    """
    status = response.status_code
    if status in EXPIRED_LINK_STATUSES:
        raise EvoLinkResultHostError(
            f"{label}: the result host answered HTTP {status}: the link has expired or was withdrawn. "
            f"EvoLink result links live {RESULT_LINK_LIFETIME.total_seconds() / 3600:g} h; the task was "
            f"created {_created(detail)}. Generate the video again to get fresh links.",
            status_code=status,
        )
    if not response.is_success:
        raise EvoLinkResultHostError(
            f"{label}: HTTP {status} from the result host",
            status_code=status,
            retryable=status in RETRYABLE_RESULT_HOST_STATUSES,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def mask_url(request: httpx.Request) -> None:
    """Mask a request's URL in logs before it goes out (an ``httpx`` request event hook)."""
    mask_secret(str(request.url))


def body_range(response: httpx.Response) -> tuple[int, int | None]:
    """(first byte offset of the body, total size of the file in bytes or ``None`` if unknown)."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if match is None:
            return -1, None  # unusable: treated as a misread Range
        start, total = match.groups()
        return int(start), None if total == "*" else int(total)
    length = response.headers.get("content-length")
    return 0, int(length) if length and length.isdigit() else None


def file_name(detail: TaskDetail, number: int, response: httpx.Response) -> str:
    stem = detail.id if len(detail.results) == 1 else f"{detail.id}_{number}"
    return f"{stem}.{_extension(response)}"


def _extension(response: httpx.Response) -> str:
    """From ``Content-Type`` when it names a format, else the URL path's suffix, else ``mp4``."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in _GENERIC_CONTENT_TYPES:
        guessed = _mime_types().guess_extension(content_type)
        if guessed:
            return guessed.lstrip(".")
    suffix = posixpath.splitext(urlsplit(str(response.url)).path)[1].lstrip(".").lower()
    return suffix if _EXTENSION.fullmatch(suffix) else _DEFAULT_EXTENSION


@functools.cache
def _mime_types() -> mimetypes.MimeTypes:
    # Python's built-in table only: the host's /etc/mime.types must not change file names between machines.
    return mimetypes.MimeTypes()


def _created(detail: TaskDetail) -> str:
    if detail.created is None:
        return "at an unknown time (the task detail has no 'created')"
    created = datetime.fromtimestamp(detail.created, UTC)
    expiry = created + RESULT_LINK_LIFETIME
    return f"{created:%Y-%m-%d %H:%M:%S} UTC, so its links expire around {expiry:%Y-%m-%d %H:%M:%S} UTC"
