"""
EvoLinkToStorageOperator: stream an EvoLink task's result files into any ``ObjectStoragePath``, atomically.

API source: ``GET /v1/tasks/{task_id}``
(``airflow_provider_evolink/api_reference/openapi/get-task-detail.openapi.yaml``, through :class:`EvoLinkHook`) for the
result URLs; ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Results") for how to fetch them: the links live
24 h, are served by CDN hosts that must never see the API key, and are signed (secrets in logs).

This module holds the operator and its resume/restart loop; the rest of saving has a module each: ``sinks.py``
(what a result streams into), ``download.py`` (one result's state across attempts), ``result_host.py`` (reading
the result host's answers), ``destinations.py`` (which destinations can work, checked before paying).

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

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from airflow.sdk import Asset, BaseOperator, ObjectStoragePath
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_evolink import retry
from airflow_provider_evolink.airflow_errors import fail_or_retry
from airflow_provider_evolink.asset_extra import asset_extra, videos_asset
from airflow_provider_evolink.compat import path_conn_id
from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkResultHostError,
    EvoLinkTaskNotFinishedError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.links.storage import StoredVideoLink
from airflow_provider_evolink.models.status import TaskStatus
from airflow_provider_evolink.transfers.checksums import CHECKSUMS, file_checksum
from airflow_provider_evolink.transfers.destinations import DestinationTask, check_destination, is_template
from airflow_provider_evolink.transfers.download import Download
from airflow_provider_evolink.transfers.result_host import body_range, check_status, file_name, mask_url
from airflow_provider_evolink.transfers.sinks import StoredFile, instance_digest
from airflow_provider_evolink.xcom import find_submission

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_evolink.models.responses import TaskDetail
    from airflow_provider_evolink.transfers.checksums import ChecksumName

__all__ = ["EvoLinkToStorageOperator"]

_SAFE_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class EvoLinkToStorageOperator(BaseOperator, DestinationTask):
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

    Every run records its files in Asset events: on each of the operator's Asset ``outlets``, or, when it has none,
    on :func:`~airflow_provider_evolink.asset_extra.videos_asset` (``evolink://videos``, added to ``outlets`` at
    construction), so the "EvoLink videos" gallery and the task-instance tab show every stored video. Each event gets
    ``extra``: the EvoLink task ID, model, prompt,
    duration, ``quality``, credits at submission, total bytes, the checksum and one entry per stored file (the
    shape and the keys: :mod:`airflow_provider_evolink.asset_extra`; the former key ``resolution`` is still
    written beside ``quality``). Prompt, quality and credits come from the ``evolink_submission`` XCom of the
    upstream ``EvoLinkGenerateVideoOperator`` that created the task (``None`` when no direct upstream task recorded
    one).
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
        self.outlets = _with_videos_asset(self.outlets)
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

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """``BaseOperator.partial``; a mapped transfer without Asset ``outlets`` gets :func:`videos_asset` too (the
        scheduler reads a mapped task's outlets from here, not from ``__init__``)."""
        kwargs["outlets"] = _with_videos_asset(kwargs.get("outlets"))
        return super().partial(**kwargs)

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
            detail = reading.call(lambda: hook.get_task(evolink_task_id))
        finally:
            hook.close()
        _require_completed(detail)
        # Imported here: DAG files parse this module, and only a running task names results for lineage.
        from airflow_provider_evolink.openlineage import public_location

        self._result_locations = [public_location(url) for url in detail.results]
        digest = instance_digest(context)
        stored: list[StoredFile] = []
        with hook.result_client() as client:
            # Mask before the request goes out: httpx logs each request's URL, redirect targets included.
            client.event_hooks["request"].append(mask_url)
            for number, url in enumerate(detail.results, start=1):
                download = Download(url, number, detail, folder, digest, self.checksum)
                download.outage = settings.outage_tolerance_for(f"Downloading {download.label}", log=self.log)
                stored.append(self._store(client, download))
        self._stored_files = [(item.uri, item.size) for item in stored]
        self._record_asset_events(context, detail, stored)
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
        # Stop at the next chunk, so the failure path cleans up what a SIGTERM would otherwise leave behind.
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
                if (named := path_conn_id(folder)) and named != self.storage_conn_id:
                    raise EvoLinkConfigError(
                        f"destination {str(destination)!r} names connection {named!r} but "
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
    def _store(self, client: httpx.Client, download: Download) -> StoredFile:
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

    def _attempt(self, client: httpx.Client, download: Download) -> StoredFile | None:
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

    def _fetch(self, client: httpx.Client, download: Download) -> StoredFile | None:
        """First answer (name the target, keep an existing copy), resume or restart, stream, commit."""
        with client.stream("GET", download.url, headers=download.request_headers()) as response:
            check_status(response, download.label, download.detail)
            offset, size = body_range(response)
            if download.sink is None:
                target = download.folder / file_name(download.detail, download.number, response)
                # The host only: the whole URL is a signed link.
                self.log.info("Storing %s from %s to %s", download.label, response.url.host, target)
                download.remove_stale(target, self.log)
                if (kept := self._kept_size(target, size, download.label)) is not None:
                    return StoredFile(str(target), kept, file_checksum(target, self.checksum))
                download.start(target)
            if not download.continues(offset, size, self.log):
                return None
            self._stream(response, download)
        return download.finish(self.log)

    def _stream(self, response: httpx.Response, download: Download) -> None:
        # The network's own chunks (body.py): a fixed chunk size would hold back bytes a cut-off body then loses.
        from airflow_provider_evolink.transfers.body import iter_body

        sink = download.open_sink()
        for chunk in iter_body(response):
            if self._stop_requested:
                # Retryable: a kill is not the download's fault, and the next try starts clean.
                raise EvoLinkTransportError(f"{download.label}: download stopped because the task is being killed")
            sink.write(chunk)

    def _kept_size(self, target: ObjectStoragePath, size: int | None, label: str) -> int | None:
        """The size of an existing ``target`` that already holds the result (same size), else ``None``.

        :raises EvoLinkConfigError: (not retryable) ``target`` exists with another size (or no size to compare) and
            ``overwrite`` is ``False``.
        """
        if self.overwrite or not target.exists():
            return None
        existing = target.stat()["size"]
        if size is None:
            raise EvoLinkConfigError(
                f"{label}: {target} exists and the result host sent no Content-Length to compare it with; "
                "set overwrite=True to replace it"
            )
        if existing != size:
            raise EvoLinkConfigError(
                f"{label}: {target} exists with {existing} bytes but the result has {size}; "
                "set overwrite=True to replace it, or choose another destination"
            )
        self.log.info("%s: %s already holds the result (%d bytes); not downloading again", label, target, size)
        return existing

    # ------------------------------------------------------------------ Asset events
    def _record_asset_events(self, context: Context, detail: TaskDetail, stored: list[StoredFile]) -> None:
        if "outlet_events" not in context:  # execute() called outside a task run
            return
        assets = [outlet for outlet in self.outlets if isinstance(outlet, Asset)]
        # The prompt and the credits are not in the task detail: the generate task recorded them.
        ti = context.get("ti")
        submitted = find_submission(ti, self.upstream_task_ids, detail.id) if ti is not None else {}
        extra = asset_extra(detail, submitted, stored, self.checksum)
        for asset in assets:
            context["outlet_events"][asset].extra.update(extra)


def _with_videos_asset(outlets: Any) -> list[Any]:
    """``outlets`` as a list, with :func:`videos_asset` added when it holds no Asset (so every video gets an event)."""
    listed = list(outlets) if isinstance(outlets, list | tuple) else [] if outlets is None else [outlets]
    return listed if any(isinstance(outlet, Asset) for outlet in listed) else [*listed, videos_asset()]


def _require_completed(detail: TaskDetail) -> None:
    if detail.status is TaskStatus.COMPLETED:
        return
    if detail.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        code = f" [{detail.error.code}]" if detail.error and detail.error.code else ""
        message = f": {detail.error.message}" if detail.error and detail.error.message else ""
        raise EvoLinkError(f"EvoLink task {detail.id} is {detail.status.value}{code}{message}: no results to store")
    raise EvoLinkTaskNotFinishedError(
        f"EvoLink task {detail.id} is {detail.status.value} ({detail.progress}%), not completed: wait for it "
        "(EvoLinkTaskSensor) before storing its results"
    )
