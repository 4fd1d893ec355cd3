"""
EvoLinkToStorageOperator: stream an EvoLink task's result files into any ``ObjectStoragePath``, atomically.

API source: ``GET /v1/tasks/{task_id}`` (``airflow_provider_evolink/emulator/openapi/get-task-detail.openapi.yaml``,
through :class:`EvoLinkHook`) for the result URLs; ``docs/evolink-api.md`` ("Results") for how to fetch them: the
links live 24 h, are served by CDN hosts that must never see the API key, and are signed (secrets in logs).

How one result is stored::

    GET <result URL>  (no Authorization; every URL the client touches is masked in logs first)
      │ 403/404/410 ───────────────▶ EvoLinkResultHostError, not retryable: the 24 h link expired
      │ 408/429/5xx, no answer ────▶ another attempt after the retry policy's backoff (``retry.py``), for up
      │                              to the connection's ``outage_tolerance`` without progress
      │ first answer: name from Content-Type / URL path; delete what a killed try of this task instance left;
      │   an existing file of the same size → done
      ▼
    stream its chunks (bytes counted, checksum updated: CRC32C or sha256, ``checksums.py``) into
      │   S3:          a multipart upload of <folder>/<name> itself, parts sent while the download goes on, its
      │                ID kept in <folder>/.<name>.upload-<id> (``s3_upload.py``; S3 shows no object before the
      │                upload completes)
      │   other stores: <folder>/.<name>.part-<id>
      │   (<id>: a digest of the DAG, run, task and map index, the same for every try)
      │ cut off (RemoteProtocolError, ReadError, ... or fewer bytes than Content-Length)
      │   └──▶ resume (at once after progress) or restart: GET again with ``Range: bytes=<n>-`` (206 appends;
      │        200 restarts at zero: the temporary object is emptied, the S3 upload aborted and begun again)
      ▼ byte count == Content-Length
    commit: S3: complete the upload (the object appears whole); other stores: move .<name>.part-<id> ──▶
      <folder>/<name> (a rename on local disks, copy + delete on object stores)
      any failure: the temporary object is deleted or the upload aborted, so no partial file is ever visible;
      after a SIGKILL (no cleanup runs) the next try of the same task instance finds the temporary object by
      its name, or the upload by its marker, and deletes or aborts it
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import posixpath
import re
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from airflow.sdk import Asset, BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_evolink import retry
from airflow_provider_evolink.airflow_errors import fail_or_retry
from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkResponseError,
    EvoLinkResultHostError,
    EvoLinkTaskNotFinishedError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.hooks.responses import parse_retry_after
from airflow_provider_evolink.links.storage import StoredVideoLink
from airflow_provider_evolink.models import TaskStatus
from airflow_provider_evolink.retry import OutageTolerance
from airflow_provider_evolink.submission import find_submission
from airflow_provider_evolink.transfers.checksums import CHECKSUMS, file_checksum, new_checksum
from airflow_provider_evolink.transfers.destinations import check_destination, is_template

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context
    from pydantic import JsonValue

    from airflow_provider_evolink.response_models import TaskDetail
    from airflow_provider_evolink.transfers.background_writer import Writable
    from airflow_provider_evolink.transfers.checksums import ChecksumName

__all__ = ["EvoLinkToStorageOperator", "check_destinations_downstream"]

#: Buffer of the temporary object's writer on object stores other than S3 (bytes; one multipart part where the store
#: has them; S3 has its own, ``s3_upload.PART_BYTES``). fsspec writers buffer 50 MiB by default; 5 MiB keeps a
#: download's memory small: the peak RSS growth of a 1 GiB store into moto's S3 through this writer went from
#: 73.5 MB with 8 MiB parts (and 8 queued chunks) to 47.8 MB, at the same speed (``benchmarks/README.md``,
#: session 3). Local files ignore it.
WRITE_BLOCK_BYTES = 5 << 20
#: How long EvoLink result links stay valid (``docs/evolink-api.md``, "Results").
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


class _StoredFile(NamedTuple):
    """One stored result: its URI, size in bytes and checksum (``checksums.py``: the operator's algorithm)."""

    uri: str
    size: int
    checksum: str


class _Sink:
    """Where one result streams, with its size and checksum so far: checksummed as it is queued and written on a
    helper thread (``BackgroundWriter``), so the download does not wait for the disk or the S3 part upload."""

    size: int
    checksum_name: ChecksumName

    def _open(self) -> None:
        # Imported here, when a save starts: DAG files do not pay for it.
        from airflow_provider_evolink.transfers.background_writer import BackgroundWriter

        self._out = BackgroundWriter(self._writer(), new_checksum(self.checksum_name))
        self.size = 0

    def _writer(self) -> Writable:
        raise NotImplementedError

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self.size += len(chunk)

    def _drop(self) -> None:
        """Delete what was written so far."""
        raise NotImplementedError

    def discard(self, log: Any) -> None:
        """Throw away what was written after a failure: nothing is left at or beside the target."""
        with suppress(Exception):
            self._out.close()
        try:
            self._drop()
        except Exception as error:  # the original failure matters more; say what is left behind
            log.warning("Could not remove %s: %s", self, error)


class _PartFile(_Sink):
    """The temporary object beside ``target`` that one result streams into (every store but S3).

    fsspec commits a writer on close even when writing failed, so nothing is ever written to ``target``
    itself: :meth:`commit` moves a complete file into place, :meth:`discard` deletes an incomplete one.
    """

    def __init__(self, target: ObjectStoragePath, owner: str, checksum_name: ChecksumName) -> None:
        self.path = self.path_for(target, owner)
        self.checksum_name = checksum_name
        self._open()

    def __str__(self) -> str:
        return f"the temporary file {self.path}"

    @staticmethod
    def path_for(target: ObjectStoragePath, owner: str) -> ObjectStoragePath:
        """``<folder>/.<name>.part-<owner>``: hidden, and found again by the next try of the same owner."""
        return target.parent / f".{target.name}.part-{owner}"

    @classmethod
    def remove_stale(cls, target: ObjectStoragePath, owner: str, label: str, log: Any) -> None:
        """Delete the temporary object an earlier, killed try of ``owner`` left beside ``target``."""
        stale = cls.path_for(target, owner)
        if stale.exists():
            log.warning("%s: removing %s, left behind by an earlier try that was stopped", label, stale)
            stale.unlink(missing_ok=True)

    def _writer(self) -> Writable:
        # The filesystem's own writer, not ObjectStoragePath.open: its lineage wrapper costs a path
        # formatting per write (a sixth of the CPU of a download) and would report the temporary name as an
        # output. move() in commit() still reports the final object to hook lineage.
        return self.path.fs.open(self.path.path, "wb", block_size=WRITE_BLOCK_BYTES)

    def restart(self) -> None:
        """Empty the file (reopening truncates it on every store; object stores cannot seek back)."""
        self._out.close()
        self._open()

    def commit(self, target: ObjectStoragePath) -> _StoredFile:
        """Move into place: a rename on local disks, a server-side copy + delete on object stores."""
        checksum = self._out.close()
        self.path.move(target)
        return _StoredFile(str(target), self.size, checksum)

    def _drop(self) -> None:
        self.path.unlink(missing_ok=True)


class _FinalUpload(_Sink):
    """S3: one result streams into an upload of ``target`` itself, invisible until :meth:`commit` completes it
    (``s3_upload.py``): no temporary object, so no server-side copy."""

    def __init__(self, target: ObjectStoragePath, owner: str, checksum_name: ChecksumName) -> None:
        self.target, self._owner, self.checksum_name = target, owner, checksum_name
        self._open()

    def __str__(self) -> str:
        return f"the upload of {self.target}"

    @staticmethod
    def remove_stale(target: ObjectStoragePath, owner: str, label: str, log: Any) -> None:
        """Abort the upload of ``target`` an earlier, killed try of ``owner`` left incomplete."""
        from airflow_provider_evolink.transfers.s3_upload import remove_stale_upload

        if (upload_id := remove_stale_upload(target, owner)) is not None:
            log.warning(
                "%s: aborted upload %s of %s, left incomplete by an earlier try that was stopped",
                label,
                upload_id,
                target,
            )

    def _writer(self) -> Writable:
        from airflow_provider_evolink.transfers.s3_upload import S3FinalUpload

        self._upload = S3FinalUpload(self.target, self._owner)
        return self._upload

    def restart(self) -> None:
        """Throw the upload away and start another (S3 cannot take back a part's bytes)."""
        with suppress(Exception):
            self._out.close()
        self._upload.abort()
        self._open()

    def commit(self, target: ObjectStoragePath) -> _StoredFile:
        """Complete the upload: the object appears whole at ``target``."""
        from airflow.sdk.lineage import get_hook_lineage_collector

        checksum = self._out.close()
        self._upload.complete()
        get_hook_lineage_collector().add_output_asset(context=target, uri=str(target))
        return _StoredFile(str(target), self.size, checksum)

    def _drop(self) -> None:
        self._upload.abort()


def _sink_class(target: ObjectStoragePath) -> type[_PartFile | _FinalUpload]:
    """Where a result for ``target`` streams: an upload of ``target`` itself on S3 (``s3_upload.py``), a temporary
    object beside it on every other store."""
    from airflow_provider_evolink.transfers.s3_upload import is_s3

    return _FinalUpload if is_s3(target.fs) else _PartFile


class EvoLinkToStorageOperator(BaseOperator):
    """
    Store the result files of a completed EvoLink task in a folder of any Airflow object storage.

    The task is read fresh (``GET /v1/tasks/{id}``) and must be ``completed``. Each result URL is streamed,
    chunk by chunk as the network delivers it (memory flat in file size), to a temporary object beside the
    target, its byte count checked against ``Content-Length``, then moved into place; a failure deletes the
    temporary object, so the folder never shows a partial file. On S3, where an object appears only once its
    upload completes, the result streams into a multipart upload of the target itself, completed only after
    the byte count is checked and aborted on any failure: the same guarantee without a server-side copy (see
    ``transfers/s3_upload.py``). A body cut off mid-stream resumes with an
    HTTP ``Range`` request at once; attempts without progress back off (honouring ``Retry-After``) for up to the
    EvoLink connection's ``outage_tolerance``. The temporary object (S3: the incomplete upload) of a try killed
    without cleanup is found and deleted by the next try of the same task instance, never one of another run or
    task. Result hosts
    never receive the API key, and result URLs are masked in logs and kept out of error messages (they are
    signed links).

    Files are named ``<evolink_task_id>.<ext>`` for one result, ``<evolink_task_id>_1.<ext>``,
    ``_2``, … for several; ``<ext>`` comes from the result's ``Content-Type``, else its URL path, else ``mp4``
    (so a video result is ``<evolink_task_id>.mp4``).

    When the operator has Asset ``outlets``, each one's event gets ``extra``::

        {"evolink_task_id": str, "model": str | None, "source": "evolink",
         "prompt": str | None,      # shortened to 200 characters
         "duration": int | None,    # seconds of video (task detail, else the request)
         "resolution": str | None,  # the request's quality, e.g. "720p"
         "usage": dict | None,      # credits at submission (models.credit_usage): credits_reserved, ...
         "bytes": int,              # total size of the stored files, in bytes
         "crc32c": str | None,      # the file's checksum; None when the task had several results
         "files": [{"uri": str, "bytes": int, "crc32c": str}, ...]}   # one entry per file, in result order

    The checksum's key is the ``checksum`` algorithm: ``"crc32c"`` (the default) is the base64 of the CRC32C's
    four big-endian bytes, as S3 (``ChecksumCRC32C``) and GCS (``crc32c``) show it; ``"sha256"`` is a hex digest.

    ``prompt``, ``resolution`` and ``usage`` come from the ``evolink_submission`` XCom of the upstream
    ``EvoLinkGenerateVideoOperator`` that created the task (``None`` when no direct upstream task recorded one).
    The "EvoLink videos" UI plugin shows these events as a gallery.

    The task instance gets a **Stored video** button (:class:`~airflow_provider_evolink.links.storage.StoredVideoLink`)
    that opens the stored object in the AWS S3 or Google Cloud Storage console (``s3://`` and ``gs://`` only).

    :param evolink_task_id: the EvoLink task ID (templated), e.g. the XCom of
        ``EvoLinkGenerateVideoOperator``. Must be usable as a file name (letters, digits, ``.``, ``_``, ``-``).
    :param destination: the folder to store into (templated): a URI string (``s3://bucket/prefix``,
        ``file:///data/videos``; a connection ID may ride in it, ``s3://aws_conn@bucket/prefix``), an absolute
        path, or an ``ObjectStoragePath``. Local folders are created; object-store buckets must exist. A literal
        that cannot work (no scheme and not absolute, an unknown scheme, a store whose package is missing) is
        refused here, when the DAG is parsed (``transfers/destinations.py``); a template once rendered.
    :param evolink_conn_id: the EvoLink connection (templated; API key; its ``outage_tolerance`` bounds how long
        downloads may fail without progress and its ``timeout`` applies to each read from the result host, in
        seconds).
    :param storage_conn_id: the Airflow connection for ``destination`` (templated), when the URI does not
        carry one. Giving a different one in both places is an error.
    :param overwrite: replace existing files. With ``False`` an existing file of the result's size counts
        as already stored (a retry after a partial success downloads nothing again; it is read once to
        compute its checksum), and one of another size fails the task.
    :param checksum: the checksum computed as each file streams and put in the Asset events: ``"crc32c"``
        (default; about 0.04 s of CPU per GiB, and the checksum S3 and GCS keep) or ``"sha256"`` (a
        cryptographic digest; about 0.6 s of CPU per GiB on the benchmark machine, ``benchmarks/README.md``).
    :return: the stored files' URIs (``list[str]``), in result order.
    :raises AirflowFailException: whatever no retry can fix, at once and without spending Airflow retries: an
        unusable ``destination`` or ``evolink_task_id`` (checked before any download; the cause is an
        ``EvoLinkConfigError``), the task ``failed``/``cancelled``, a result link expired (403/404/410) or
        another refusal of the result host (an ``EvoLinkResultHostError``), a non-retryable API answer, an
        existing file of another size with ``overwrite`` ``False``.
    :raises EvoLinkTaskNotFinishedError: the task is not ``completed`` yet (wait for it with
        ``EvoLinkTaskSensor``); retryable.
    :raises ValueError: (``EvoLinkConfigError``) at construction, a literal ``destination`` that cannot work, or
        a ``checksum`` other than ``"crc32c"`` and ``"sha256"``.
    :raises EvoLinkTransportError: a result could not be fetched for longer than the outage tolerance;
        retryable.
    :raises EvoLinkResponseError: the result host sent more bytes than its ``Content-Length``; EvoLink
        answered with another task than the one asked for; retryable.
    """

    template_fields: Sequence[str] = ("evolink_task_id", "destination", "evolink_conn_id", "storage_conn_id")
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
        checksum: ChecksumName = "crc32c",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(destination, str) and not is_template(destination):
            check_destination(destination)  # a literal that cannot work fails the DAG, not a paid run
        if checksum not in CHECKSUMS:
            raise EvoLinkConfigError(f"checksum must be one of {', '.join(map(repr, CHECKSUMS))}, got {checksum!r}")
        self.checksum = checksum
        self.evolink_task_id = evolink_task_id
        self.destination = destination
        self.evolink_conn_id = evolink_conn_id
        self.storage_conn_id = storage_conn_id
        self.overwrite = overwrite
        self._stop_requested = False
        # For lineage: result URLs without their signed part, and (URI, bytes) of each stored file.
        self._result_locations: list[str] = []
        self._stored_files: list[tuple[str, int]] = []

    def execute(self, context: Context) -> list[str]:
        # A bad destination, an expired link or a refusal fails once; transient failures keep Airflow's retries.
        with fail_or_retry():
            return self._save(context)

    def _save(self, context: Context) -> list[str]:
        evolink_task_id = self._checked_task_id()
        folder = self._destination_folder()
        hook = EvoLinkHook(evolink_conn_id=self.evolink_conn_id)
        settings = hook.settings
        try:
            reading = settings.outage_tolerance_for(f"Reading EvoLink task {evolink_task_id}", log=self.log)
            task = reading.call(lambda: hook.get_task(evolink_task_id))
        finally:
            hook.close()
        _require_completed(task)
        # Imported here: DAG files parse this module, and only a running task names results for lineage.
        from airflow_provider_evolink.openlineage import public_location

        self._result_locations = [public_location(url) for url in task.results]
        owner = _try_owner(context)
        stored: list[_StoredFile] = []
        with hook.result_client() as client:
            # Mask before the request goes out: httpx logs each request's URL, redirect targets included.
            client.event_hooks["request"].append(_mask_url)
            for number, url in enumerate(task.results, start=1):
                download = _Download(url, number, task, folder, owner, self.checksum)
                download.outage = settings.outage_tolerance_for(f"Downloading {download.label}", log=self.log)
                stored.append(self._store(client, download))
        self._stored_files = [(item.uri, item.size) for item in stored]
        self._record_asset_events(context, task, stored)
        return [item.uri for item in stored]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage of this run, for the OpenLineage provider's listener (extra ``[openlineage]``).

        Input: the EvoLink task's results, named without their signed part; outputs: the stored files (the
        URIs of the Asset events) with their size in bytes (``outputStatistics``). The temporary ``.part-``
        objects and S3's ``.upload-`` markers never appear. See :mod:`airflow_provider_evolink.openlineage.facets`.
        """
        from airflow_provider_evolink.openlineage.facets import storage_lineage

        return storage_lineage(self._result_locations, self._stored_files)

    def on_kill(self) -> None:
        # Called from the SIGTERM handler in the task's own thread: stop at the next chunk, so the normal
        # failure path deletes the temporary object (aborts the S3 upload) instead of leaving it behind.
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
            check_destination(destination)
            destination = destination.strip()
        if not isinstance(destination, str | ObjectStoragePath):
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
    def _store(self, client: httpx.Client, download: _Download) -> _StoredFile:
        """Stream one result into its folder, resuming at once after progress and
        backing off through failures for the connection's ``outage_tolerance``; see the module docstring. Any
        failure, a kill included, deletes the temporary object (aborts the S3 upload)."""
        try:
            while True:
                before = download.received
                if (stored := self._attempt(client, download)) is not None:
                    return stored
                wait = download.next_wait(before)
                self.log.warning("%s: %s; next attempt in %.1f s", download.label, download.cause, wait)
                retry.sleep(wait)
        except BaseException:
            download.discard(self.log)
            raise

    def _attempt(self, client: httpx.Client, download: _Download) -> _StoredFile | None:
        """One GET of the result: the stored file, or ``None`` (with ``download.cause``) when worth another.

        :raises EvoLinkResultHostError: the host refused in a way no retry fixes (e.g. an expired link).
        """
        try:
            return self._fetch(client, download)
        except EvoLinkResultHostError as error:
            if not error.retryable:
                raise
            download.failed(str(error), error)
        except httpx.TransportError as error:
            # Only the class name: an httpx message may quote the signed URL.
            total = download.total or "unknown"
            download.failed(f"{type(error).__name__} after {download.received} of {total} bytes")
        return None

    def _fetch(self, client: httpx.Client, download: _Download) -> _StoredFile | None:
        """First answer (name the target, keep an existing copy), resume or restart, stream, commit."""
        with client.stream("GET", download.url, headers=download.request_headers()) as response:
            _check_status(response, download.label, download.task)
            offset, size = _body_range(response)
            if download.part is None:
                target = download.folder / _file_name(download.task, download.number, response)
                # The host only: the whole URL is a signed link.
                self.log.info("Storing %s from %s to %s", download.label, response.url.host, target)
                download.remove_stale(target, self.log)
                if (kept := self._kept_size(target, size, download.label)) is not None:
                    return _StoredFile(str(target), kept, file_checksum(target, self.checksum))
                download.start(target)
            if not download.continues(offset, size, self.log):
                return None
            self._stream(response, download)
        return download.finish(self.log)

    def _stream(self, response: httpx.Response, download: _Download) -> None:
        # The network's own chunks, past h11 (body.py): a chunk size would hold bytes back to fill a chunk, and a
        # cut-off body would lose them. Imported here, as the writer is: DAG files do not pay for it.
        from airflow_provider_evolink.transfers.body import iter_body

        part = download.open_part()
        for chunk in iter_body(response):
            if self._stop_requested:
                # Retryable: a kill is not the download's fault, and the next try starts clean.
                raise EvoLinkTransportError(f"{download.label}: download stopped because the task is being killed")
            part.write(chunk)

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
        assets = [outlet for outlet in self.outlets if isinstance(outlet, Asset)]
        if not assets:
            return
        # The prompt and the credits are not in the task detail: the generate task recorded them.
        ti = context.get("ti")
        submitted = find_submission(ti, self.upstream_task_ids, task.id) if ti is not None else {}
        duration = task.task_info.video_duration if task.task_info else None
        extra: dict[str, JsonValue] = {
            "evolink_task_id": task.id,
            "model": task.model,
            "source": "evolink",
            "prompt": submitted.get("prompt"),
            "duration": duration if duration is not None else submitted.get("duration"),
            "resolution": submitted.get("resolution"),
            "usage": submitted.get("usage"),
            "bytes": sum(item.size for item in stored),
            self.checksum: stored[0].checksum if len(stored) == 1 else None,
            "files": [{"uri": item.uri, "bytes": item.size, self.checksum: item.checksum} for item in stored],
        }
        for asset in assets:
            context["outlet_events"][asset].extra.update(extra)


class _Download:
    """One result's download across attempts: what is fetched and where it goes, what it streams into (the
    temporary object, or on S3 the upload of the target), the bytes announced, why the last attempt fell short,
    and how long attempts have been failing.

    :param url: the signed result link (never logged).
    :param number: the result's 1-based position in ``task.results``.
    :param task: the completed task detail.
    :param folder: the destination folder.
    :param owner: the suffix of the temporary object (S3: of the upload's marker), the same for every try of one
        task instance (see :func:`_try_owner`).
    :param checksum_name: the checksum computed as the file streams (``checksums.py``).
    """

    def __init__(
        self,
        url: str,
        number: int,
        task: TaskDetail,
        folder: ObjectStoragePath,
        owner: str,
        checksum_name: ChecksumName,
    ) -> None:
        self.url, self.number, self.task, self.folder, self.owner = url, number, task, folder, owner
        self.checksum_name = checksum_name
        self.label = f"result {number} of {len(task.results)} of EvoLink task {task.id}"
        #: How long attempts without progress may fail (the connection's ``outage_tolerance``).
        self.outage = OutageTolerance(self.label)
        self.target: ObjectStoragePath | None = None
        self.part: _PartFile | _FinalUpload | None = None
        self.total: int | None = None  # bytes, from Content-Length or Content-Range
        self.cause = ""
        self.error: EvoLinkResultHostError | None = None

    @property
    def received(self) -> int:
        """Bytes written so far."""
        return self.part.size if self.part else 0

    def request_headers(self) -> dict[str, str]:
        # identity: Content-Length and Range then count the bytes that are written.
        resume = {"Range": f"bytes={self.received}-"} if self.received else {}
        return {"Accept-Encoding": "identity"} | resume

    def remove_stale(self, target: ObjectStoragePath, log: Any) -> None:
        """Remove what an earlier, killed try of this task instance left for ``target``."""
        _sink_class(target).remove_stale(target, self.owner, self.label, log)

    def start(self, target: ObjectStoragePath) -> None:
        """The first answer named the file: open what it streams into."""
        self.target = target
        self.part = _sink_class(target)(target, self.owner, self.checksum_name)

    def open_part(self) -> _PartFile | _FinalUpload:
        if self.part is None:
            raise RuntimeError(f"{self.label}: nothing open to write to")
        return self.part

    def continues(self, offset: int, size: int | None, log: Any) -> bool:
        """Whether this body (starting at byte ``offset`` of a file of ``size`` bytes) continues what was written.
        When the host ignored or misread the Range, or the file changed, that is thrown away: a body from byte 0
        is then streamed from the start, any other is refused (``False``)."""
        part = self.open_part()
        if offset != part.size or (None not in (self.total, size) and size != self.total):
            requested = part.size
            part.restart()
            self.total = None
            if offset != 0:
                self.failed(f"HTTP 206 from byte {offset} instead of {requested}")
                return False
            log.info("%s: the result host ignored the Range request; restarting", self.label)
        self.total = size if size is not None else self.total
        return True

    def finish(self, log: Any) -> _StoredFile | None:
        """Commit a complete body; ``None`` (with :attr:`cause`) for a short one.

        :raises EvoLinkResponseError: more bytes than announced.
        """
        part = self.open_part()
        if self.target is not None and (self.total is None or part.size == self.total):
            stored = part.commit(self.target)
            log.info(
                "Stored %s: %d bytes, %s %s, at %s",
                self.label,
                stored.size,
                self.checksum_name,
                stored.checksum,
                self.target,
            )
            return stored
        if self.total is not None and part.size > self.total:
            raise EvoLinkResponseError(
                f"{self.label}: the result host sent {part.size} bytes but announced {self.total}"
            )
        self.failed(f"body ended after {part.size} of {self.total} bytes")
        return None

    def failed(self, cause: str, error: EvoLinkResultHostError | None = None) -> None:
        """Record why an attempt fell short (``error`` carries a host's ``Retry-After``)."""
        self.cause, self.error = cause, error

    def next_wait(self, received_before: int) -> float:
        """Seconds before the next attempt: none after progress (the outage is over), else the retry policy's
        backoff.

        :raises EvoLinkResultHostError: or :class:`EvoLinkTransportError`: attempts without progress have failed
            for longer than the outage tolerance.
        """
        if self.received > received_before:
            self.outage.recovered()
            return 0.0
        return self.outage.wait_after(self.error or EvoLinkTransportError(f"{self.label}: {self.cause}"))

    def discard(self, log: Any) -> None:
        if self.part is not None:
            self.part.discard(log)


def _check_status(response: httpx.Response, label: str, task: TaskDetail) -> None:
    """Raise for a result-host answer that carries no result; its message never holds the signed URL.

    :raises EvoLinkResultHostError: 403/404/410 (expired link), 408/429/5xx (retryable), anything else not 2xx.
    """
    status = response.status_code
    if status in _EXPIRED_STATUSES:
        raise EvoLinkResultHostError(
            f"{label}: the result host answered HTTP {status}: the link has expired or was withdrawn. "
            f"EvoLink result links live {RESULT_LINK_LIFETIME.total_seconds() / 3600:g} h; the task was "
            f"created {_created(task)}. Generate the video again to get fresh links.",
            status_code=status,
        )
    if not response.is_success:
        raise EvoLinkResultHostError(
            f"{label}: HTTP {status} from the result host",
            status_code=status,
            retryable=status in _TRANSIENT_STATUSES,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def check_destinations_downstream(task: BaseOperator, context: Context) -> None:
    """Before a video is paid for: render the ``destination`` of every :class:`EvoLinkToStorageOperator` downstream
    of ``task`` (plain or mapped) with ``task``'s context, and refuse one that cannot work.

    A destination that reads XCom or another task instance cannot be known yet and is left to the save task,
    as is one that does not render here.

    :raises EvoLinkConfigError: a rendered destination that cannot work (see ``destinations.py``), naming the
        save task.
    """
    for relative in task.get_flat_relatives(upstream=False):
        value = _known_destination(relative)
        rendered = None if value is None else _rendered(task, value, context)
        if rendered is None:
            continue
        try:
            check_destination(rendered)
        except EvoLinkConfigError as error:
            raise EvoLinkConfigError(f"task {relative.task_id!r} could not store the video: {error}") from None


def _known_destination(task: Any) -> str | None:
    """The ``destination`` template of a save task, plain or mapped (its ``partial`` value); ``None`` for another
    kind of task, or a value only the save task itself can know."""
    if isinstance(task, EvoLinkToStorageOperator):
        value = task.destination
    elif getattr(task, "operator_class", None) is EvoLinkToStorageOperator:
        value = task.partial_kwargs.get("destination")
    else:
        return None
    if not isinstance(value, str) or any(part in value for part in _NOT_KNOWN_YET):
        return None
    return value


def _rendered(task: BaseOperator, value: str, context: Context) -> str | None:
    try:
        return str(task.render_template(value, context))
    except Exception as error:  # e.g. a Variable that does not exist yet: the save task will say
        task.log.info("The destination %r does not render before the save task runs (%s): checked then", value, error)
        return None


#: Template fragments whose value only the save task knows (XCom, its own task instance).
_NOT_KNOWN_YET = ("xcom", "task_instance", "ti.task_id", "ti.try_number")


def _try_owner(context: Context) -> str:
    """The suffix of this task instance's temporary objects: a digest of its DAG, run, task and map index, so the
    next try finds what a killed one left and never touches another run's or task's; a random one when the
    context has no task instance."""
    ti = context.get("ti")
    scope = [getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id", "map_index")]
    if None in scope:
        return uuid.uuid4().hex
    return hashlib.sha256("\n".join(map(str, scope)).encode()).hexdigest()[:16]


def _mask_url(request: httpx.Request) -> None:
    mask_secret(str(request.url))


def _require_completed(task: TaskDetail) -> None:
    if task.status is TaskStatus.COMPLETED:
        return
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        code = f" [{task.error.code}]" if task.error and task.error.code else ""
        message = f": {task.error.message}" if task.error and task.error.message else ""
        raise AirflowFailException(f"EvoLink task {task.id} is {task.status.value}{code}{message}: no results to store")
    raise EvoLinkTaskNotFinishedError(
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


def _created(task: TaskDetail) -> str:
    if task.created is None:
        return "at an unknown time (the task detail has no 'created')"
    created = datetime.fromtimestamp(task.created, UTC)
    expiry = created + RESULT_LINK_LIFETIME
    return f"{created:%Y-%m-%d %H:%M:%S} UTC, so its links expire around {expiry:%Y-%m-%d %H:%M:%S} UTC"
