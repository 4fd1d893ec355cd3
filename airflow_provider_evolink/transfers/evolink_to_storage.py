"""
EvoLinkToStorageOperator: stream an EvoLink task's result files into any ``ObjectStoragePath``, atomically.

API source: ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``, through :class:`EvoLinkHook`) for the
result URLs; ``FACTS.md`` ("Polling and results") for how to fetch them: the links live 24 h, are served by CDN
hosts that must never see the API key, and are signed (secrets in logs).

How one result is stored::

    GET <result URL>  (no Authorization; every URL the client touches is masked in logs first)
      │ 403/404/410 ───────────────▶ AirflowFailException: the 24 h link expired (task ID, created time)
      │ name from Content-Type / URL path; an existing file of the same size → done (nothing written)
      ▼
    stream its chunks ──▶ <folder>/.<name>.part-<uuid>   (bytes counted, sha256 updated)
      │ cut off (RemoteProtocolError, ReadError, ... or fewer bytes than Content-Length)
      │   └──▶ GET again with ``Range: bytes=<n>-`` (206 appends; 200 restarts at zero), bounded attempts
      ▼ byte count == Content-Length
    move .<name>.part-<uuid> ──▶ <folder>/<name>   (a rename on local disks, copy + delete on object stores)
      any failure, including a kill: the temporary object is deleted, so no partial file is ever visible
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import posixpath
import re
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from airflow.sdk import Asset, BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkResponseError,
    EvoLinkTransportError,
    api_error_for_status,
)
from airflow_provider_evolink.hooks.evolink import MAX_RETRY_WAIT, RETRY_INITIAL_WAIT, EvoLinkHook
from airflow_provider_evolink.links.storage import StoredVideoLink
from airflow_provider_evolink.models import TaskDetail, TaskStatus

if TYPE_CHECKING:
    from airflow.sdk import Context
    from pydantic import JsonValue

__all__ = ["EvoLinkToStorageOperator"]

#: Bytes read at a time when hashing an existing file: memory stays flat whatever the file size.
CHUNK_BYTES = 1 << 20
#: Buffer of object-store writers (bytes; one multipart part). s3fs buffers 50 MiB by default; 8 MiB keeps a
#: download's memory small and is above S3's 5 MiB minimum part size. Local files ignore it.
WRITE_BLOCK_BYTES = 8 << 20
#: How long EvoLink result links stay valid (FACTS.md).
RESULT_LINK_LIFETIME = timedelta(hours=24)
#: Result-host answers that mean the signed link no longer works.
_EXPIRED_STATUSES = frozenset({403, 404, 410})
#: Result-host answers worth another attempt.
_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DEFAULT_EXTENSION = "mp4"
# Content-Types that say nothing about the format: fall back to the URL path.
_GENERIC_CONTENT_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/binary"})
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")
_SAFE_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


@dataclass(frozen=True)
class _StoredFile:
    """One stored result: its URI, size in bytes and sha256 hex digest."""

    uri: str
    size: int
    sha256: str


class _PartFile:
    """The temporary object beside ``target`` that one result streams into, with its size and sha256 so far.

    fsspec commits a writer on close even when writing failed, so nothing is ever written to ``target``
    itself: :meth:`commit` moves a complete file into place, :meth:`discard` deletes an incomplete one.
    """

    def __init__(self, target: ObjectStoragePath) -> None:
        self.path = target.parent / f".{target.name}.part-{uuid.uuid4().hex}"
        self._open()

    def _open(self) -> None:
        # The filesystem's own writer, not ObjectStoragePath.open: its lineage wrapper costs a path
        # formatting per write (a sixth of the CPU of a download) and would report the temporary name as an
        # output. move() in commit() still reports the final object to hook lineage.
        self._out = self.path.fs.open(self.path.path, "wb", block_size=WRITE_BLOCK_BYTES)
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def restart(self) -> None:
        """Empty the file (reopening truncates it on every store; object stores cannot seek back)."""
        self._out.close()
        self._open()

    def commit(self, target: ObjectStoragePath) -> _StoredFile:
        """Move into place: a rename on local disks, a server-side copy + delete on object stores."""
        self._out.close()
        self.path.move(target)
        return _StoredFile(str(target), self.size, self._digest.hexdigest())

    def discard(self, log: Any) -> None:
        with suppress(Exception):
            self._out.close()
        try:
            self.path.unlink(missing_ok=True)
        except Exception as error:  # the original failure matters more; say what is left behind
            log.warning("Could not delete the temporary file %s: %s", self.path, error)


class EvoLinkToStorageOperator(BaseOperator):
    """
    Store the result files of a completed EvoLink task in a folder of any Airflow object storage.

    The task is read fresh (``GET /v1/tasks/{id}``) and must be ``completed``. Each result URL is streamed,
    chunk by chunk as the network delivers it (memory flat in file size), to a temporary object beside the
    target, its byte count checked against ``Content-Length``, then moved into place; a failure deletes the
    temporary object, so the folder never shows a partial file. A body cut off mid-stream resumes with an
    HTTP ``Range`` request, up to the EvoLink connection's ``max_retries`` + 1 attempts per file. Result hosts
    never receive the API key, and result URLs are masked in logs and kept out of error messages (they are
    signed links).

    Files are named ``<evolink_task_id>.<ext>`` for one result, ``<evolink_task_id>_1.<ext>``,
    ``_2``, … for several; ``<ext>`` comes from the result's ``Content-Type``, else its URL path, else ``mp4``
    (so a video result is ``<evolink_task_id>.mp4``).

    When the operator has Asset ``outlets``, each one's event gets ``extra``::

        {"evolink_task_id": str, "model": str | None, "source": "evolink",
         "bytes": int,              # total size of the stored files, in bytes
         "sha256": str | None,      # hex digest of the file; None when the task had several results
         "files": [{"uri": str, "bytes": int, "sha256": str}, ...]}   # one entry per file, in result order

    The task instance gets a **Stored video** button (:class:`~airflow_provider_evolink.links.storage.StoredVideoLink`)
    that opens the stored object in the AWS S3 or Google Cloud Storage console (``s3://`` and ``gs://`` only).

    :param evolink_task_id: the EvoLink task ID (templated), e.g. the XCom of
        ``EvoLinkGenerateVideoOperator``. Must be usable as a file name (letters, digits, ``.``, ``_``, ``-``).
    :param destination: the folder to store into (templated): a URI string (``s3://bucket/prefix``,
        ``file:///data/videos``; a connection ID may ride in it, ``s3://aws_conn@bucket/prefix``) or an
        ``ObjectStoragePath``. Local folders are created; object-store buckets must exist.
    :param evolink_conn_id: the EvoLink connection (API key; its ``max_retries`` bounds the download
        attempts per file and its ``timeout`` applies to each read from the result host, in seconds).
    :param storage_conn_id: the Airflow connection for ``destination`` (templated), when the URI does not
        carry one. Giving a different one in both places is an error.
    :param overwrite: replace existing files. With ``False`` an existing file of the result's size counts
        as already stored (a retry after a partial success downloads nothing again; it is read once to
        compute its sha256), and one of another size fails the task.
    :return: the stored files' URIs (``list[str]``), in result order.
    :raises AirflowFailException: the task ``failed``/``cancelled``; a result link expired (403/404/410);
        an existing file differs in size and ``overwrite`` is ``False``.
    :raises EvoLinkConfigError: ``destination`` or ``evolink_task_id`` is unusable (checked before any
        download).
    :raises EvoLinkError: the task is not ``completed`` yet (wait for it with ``EvoLinkTaskSensor``).
    :raises EvoLinkTransportError: a result could not be fetched within the allowed attempts.
    :raises EvoLinkAPIError: the result host answered another error status.
    :raises EvoLinkResponseError: the result host sent more bytes than its ``Content-Length``; EvoLink
        answered with another task than the one asked for.
    """

    template_fields: Sequence[str] = ("evolink_task_id", "destination", "storage_conn_id")
    ui_color = "#e8f0fe"
    operator_extra_links = (StoredVideoLink(),)

    def __init__(
        self,
        *,
        evolink_task_id: str,
        destination: str | ObjectStoragePath,
        evolink_conn_id: str = EvoLinkHook.default_conn_name,
        storage_conn_id: str | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.evolink_task_id = evolink_task_id
        self.destination = destination
        self.evolink_conn_id = evolink_conn_id
        self.storage_conn_id = storage_conn_id
        self.overwrite = overwrite
        self._stop_requested = False

    def execute(self, context: Context) -> list[str]:
        evolink_task_id = self._checked_task_id()
        folder = self._destination_folder()
        hook = EvoLinkHook(evolink_conn_id=self.evolink_conn_id)
        try:
            task = hook.get_task(evolink_task_id)
        finally:
            hook.close()
        _require_completed(task)
        attempts = hook.settings.max_retries + 1
        stored: list[_StoredFile] = []
        with hook.result_client() as client:
            # Mask before the request goes out: httpx logs each request's URL, redirect targets included.
            client.event_hooks["request"].append(_mask_url)
            for number, url in enumerate(task.results, start=1):
                stored.append(self._store(client, url, number, task, folder, attempts))
        self._record_asset_events(context, task, stored)
        return [item.uri for item in stored]

    def on_kill(self) -> None:
        # Called from the SIGTERM handler in the task's own thread: stop at the next chunk, so the normal
        # failure path deletes the temporary object instead of leaving it behind.
        self._stop_requested = True

    # ------------------------------------------------------------------ validation
    def _checked_task_id(self) -> str:
        value = self.evolink_task_id.strip() if isinstance(self.evolink_task_id, str) else ""
        if not _SAFE_TASK_ID.fullmatch(value):
            raise EvoLinkConfigError(
                f"evolink_task_id must be an EvoLink task ID usable as a file name (letters, digits, '.', '_', "
                f"'-'), got {self.evolink_task_id!r}"
            )
        return value

    def _destination_folder(self) -> ObjectStoragePath:
        """``destination`` as a folder path with its filesystem resolved; local folders are created."""
        destination = self.destination
        if isinstance(destination, str):
            destination = destination.strip()
        if not isinstance(destination, str | ObjectStoragePath) or not str(destination):
            raise EvoLinkConfigError(
                f"destination must be a folder URI or an ObjectStoragePath, got {self.destination!r}"
            )
        try:
            folder = ObjectStoragePath(destination)
            if self.storage_conn_id:
                if folder.conn_id and folder.conn_id != self.storage_conn_id:
                    raise EvoLinkConfigError(
                        f"destination {str(destination)!r} names connection {folder.conn_id!r} but "
                        f"storage_conn_id is {self.storage_conn_id!r}: give one of them"
                    )
                folder = ObjectStoragePath(destination, conn_id=self.storage_conn_id)
            if folder.is_file():
                raise EvoLinkConfigError(f"destination {str(folder)!r} is a file; it must name a folder")
            # Object stores have no folders to create, and creating a bucket from a typo would be worse.
            if isinstance(folder.fs, LocalFileSystem):
                folder.mkdir(parents=True, exist_ok=True)
        except EvoLinkConfigError:
            raise
        except (ValueError, ImportError, OSError) as error:
            raise EvoLinkConfigError(
                f"destination {str(destination)!r} is not a usable storage folder: {error}"
            ) from None
        return folder

    # ------------------------------------------------------------------ one result
    def _store(
        self,
        client: httpx.Client,
        url: str,
        number: int,
        task: TaskDetail,
        folder: ObjectStoragePath,
        attempts: int,
    ) -> _StoredFile:
        """Stream result ``number`` (1-based) of ``task`` into ``folder``; see the module docstring."""
        label = f"result {number} of {len(task.results)} of EvoLink task {task.id}"
        target: ObjectStoragePath | None = None
        part: _PartFile | None = None
        total: int | None = None  # bytes, from Content-Length or Content-Range
        cause = ""
        try:
            for attempt in range(1, attempts + 1):
                before = part.size if part else 0
                # identity: Content-Length and Range then count the bytes that are written.
                headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={before}-"} if before else {})
                try:
                    with client.stream("GET", url, headers=headers) as response:
                        self._check_status(response, label, task)
                        offset, size = _body_range(response)
                        if target is None or part is None:
                            target = folder / _file_name(task, number, response)
                            # The host only: the whole URL is a signed link.
                            self.log.info("Storing %s from %s to %s", label, response.url.host, target)
                            if (kept := self._kept_size(target, size, label)) is not None:
                                return _StoredFile(str(target), kept, _sha256_of(target))
                            part = _PartFile(target)
                        if offset != part.size or (None not in (total, size) and size != total):
                            # The host ignored or misread the Range, or the file changed: start over.
                            part.restart()
                            total = None
                            if offset != 0:
                                cause = f"HTTP 206 from byte {offset} instead of {before}"
                                continue
                            self.log.info("%s: the result host ignored the Range request; restarting", label)
                        total = size if size is not None else total
                        # The network's own chunks (httpcore reads up to 64 KiB): iter_bytes(chunk_size) would
                        # hold bytes back to fill a chunk, and a cut-off body would lose them.
                        for chunk in response.iter_bytes():
                            if self._stop_requested:
                                raise EvoLinkError(f"{label}: download stopped because the task is being killed")
                            part.write(chunk)
                    if total is None or part.size == total:
                        stored = part.commit(target)
                        self.log.info(
                            "Stored %s: %d bytes, sha256 %s, at %s", label, stored.size, stored.sha256, target
                        )
                        return stored
                    if part.size > total:
                        raise EvoLinkResponseError(
                            f"{label}: the result host sent {part.size} bytes but announced {total}"
                        )
                    cause = f"body ended after {part.size} of {total} bytes"
                except _Transient as error:
                    cause = str(error)
                except httpx.TransportError as error:
                    # Only the class name: an httpx message may quote the signed URL.
                    received = part.size if part else 0
                    cause = f"{type(error).__name__} after {received} of {total or 'unknown'} bytes"
                if attempt < attempts:
                    # A resume that made progress goes on at once; one that did not backs off.
                    progressed = part is not None and part.size > before
                    wait = 0.0 if progressed else min(RETRY_INITIAL_WAIT * 2 ** (attempt - 1), MAX_RETRY_WAIT)
                    self.log.warning("%s: %s; attempt %d of %d in %.1f s", label, cause, attempt + 1, attempts, wait)
                    time.sleep(wait)
            raise EvoLinkTransportError(f"{label}: gave up after {attempts} attempts: {cause}")
        except BaseException:
            if part is not None:
                part.discard(self.log)
            raise

    def _check_status(self, response: httpx.Response, label: str, task: TaskDetail) -> None:
        status = response.status_code
        if status in _EXPIRED_STATUSES:
            raise AirflowFailException(
                f"{label}: the result host answered HTTP {status}: the link has expired or was withdrawn. "
                f"EvoLink result links live {RESULT_LINK_LIFETIME.total_seconds() / 3600:g} h; the task was "
                f"created {_created(task)}. Generate the video again to get fresh links."
            )
        if status in _TRANSIENT_STATUSES:
            raise _Transient(f"HTTP {status} from the result host")
        if not response.is_success:
            raise api_error_for_status(status)(status, message=f"{label}: HTTP {status} from the result host")

    def _kept_size(self, target: ObjectStoragePath, size: int | None, label: str) -> int | None:
        """The size of an existing ``target`` that already holds the result (same size), else ``None``.

        :raises AirflowFailException: ``target`` exists with another size (or no size to compare) and
            ``overwrite`` is ``False``.
        """
        if self.overwrite or not target.exists():
            return None
        existing = target.stat()["size"]
        if size is None:
            raise AirflowFailException(
                f"{label}: {target} exists and the result host sent no Content-Length to compare it with; "
                "set overwrite=True to replace it"
            )
        if existing != size:
            raise AirflowFailException(
                f"{label}: {target} exists with {existing} bytes but the result has {size}; "
                "set overwrite=True to replace it, or choose another destination"
            )
        self.log.info("%s: %s already holds the result (%d bytes); not downloading again", label, target, size)
        return existing

    # ------------------------------------------------------------------ Asset events
    def _record_asset_events(self, context: Context, task: TaskDetail, stored: list[_StoredFile]) -> None:
        extra: dict[str, JsonValue] = {
            "evolink_task_id": task.id,
            "model": task.model,
            "source": "evolink",
            "bytes": sum(item.size for item in stored),
            "sha256": stored[0].sha256 if len(stored) == 1 else None,
            "files": [{"uri": item.uri, "bytes": item.size, "sha256": item.sha256} for item in stored],
        }
        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(extra)


class _Transient(Exception):
    """A result-host answer worth another attempt (429, 5xx)."""


def _mask_url(request: httpx.Request) -> None:
    mask_secret(str(request.url))


def _require_completed(task: TaskDetail) -> None:
    if task.status is TaskStatus.COMPLETED:
        return
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        code = f" [{task.error.code}]" if task.error and task.error.code else ""
        message = f": {task.error.message}" if task.error and task.error.message else ""
        raise AirflowFailException(f"EvoLink task {task.id} is {task.status.value}{code}{message}: no results to store")
    raise EvoLinkError(
        f"EvoLink task {task.id} is {task.status.value} ({task.progress}%), not completed: wait for it "
        "(EvoLinkTaskSensor) before storing its results"
    )


def _body_range(response: httpx.Response) -> tuple[int, int | None]:
    """(first byte offset of the body, total size of the file in bytes or ``None`` if unknown)."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if match is None:
            return -1, None  # unusable: treated as a misread Range
        start, total = match.groups()
        return int(start), None if total == "*" else int(total)
    length = response.headers.get("content-length")
    return 0, int(length) if length and length.isdigit() else None


def _file_name(task: TaskDetail, number: int, response: httpx.Response) -> str:
    stem = task.id if len(task.results) == 1 else f"{task.id}_{number}"
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


def _sha256_of(path: ObjectStoragePath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _created(task: TaskDetail) -> str:
    if task.created is None:
        return "at an unknown time (the task detail has no 'created')"
    created = datetime.fromtimestamp(task.created, UTC)
    expiry = created + RESULT_LINK_LIFETIME
    return f"{created:%Y-%m-%d %H:%M:%S} UTC, so its links expire around {expiry:%Y-%m-%d %H:%M:%S} UTC"
