"""Storing a result in S3 without a copy: a multipart upload of the final key, completed only once verified.

S3 shows an object only when its write completes: a multipart upload (``CreateMultipartUpload``, ``UploadPart``, …)
is no object until ``CompleteMultipartUpload``, and a ``PutObject`` shows all of its body or nothing. So on S3 a
result streams straight into its final key and the upload is completed only after the byte count has been checked
against ``Content-Length``; any failure aborts it (``AbortMultipartUpload``), so nothing half-written is ever
visible. The other stores keep the temporary object and its move into place (``evolink_to_storage.py``): on S3 that
move is a server-side copy of every byte plus a delete, which cost moto 33–36 s per GiB against 17.6 s for the
upload itself (``benchmarks/README.md``, sessions 3 and 4).

A try killed without cleanup (SIGKILL) leaves an incomplete upload: no object, but its parts are stored (and
billed). S3 lists incomplete uploads by key, without saying which task started them, so while an upload runs its
ID is kept in a marker object beside the target, ``<folder>/.<name>.upload-<instance_digest>`` (``instance_digest``: the
digest of the DAG, run, task and map index that names the other stores' temporary objects). The next try of the same
task instance reads the marker, aborts that upload and deletes the marker; another task instance's upload of the same
key has another marker and is never touched. A try killed in the one request between starting an upload and
writing its marker leaves an upload nobody aborts: a bucket lifecycle rule ``AbortIncompleteMultipartUpload`` is
the safety net for that (and for any client's abandoned uploads).

Parts (``PART_BYTES``, S3's minimum) are sent on fsspec's event loop while the download goes on, up to
``MAX_PARTS_IN_FLIGHT`` at once; a result smaller than one part is sent with a single ``PutObject`` once it is
complete (no upload, no marker).

Every request that carries bytes carries their CRC32C (``ChecksumCRC32C``, the checksum the transfer also puts in
its Asset events by default, ``checksums.py``): each part's own, and the whole object's on ``PutObject`` and on
``CompleteMultipartUpload`` of an upload begun with ``ChecksumType=FULL_OBJECT``. S3 refuses a part or an object
whose bytes do not match (``BadDigest``), so what arrives is what was downloaded, and ``HeadObject`` with
``ChecksumMode=ENABLED`` then shows the same CRC32C as the Asset event. It also spares botocore its own CRC32 of
every part (its default since 1.36).
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from concurrent.futures import Future
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import google_crc32c

from airflow_provider_evolink.transfers.checksums import crc32c_text

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

__all__ = ["MAX_PARTS_IN_FLIGHT", "PART_BYTES", "S3FinalUpload", "is_s3", "marker_path", "remove_stale_upload"]

#: Bytes per multipart part (S3's minimum, 5 MiB): the part buffers are most of a store's memory.
PART_BYTES = 5 << 20
#: Parts that may upload at once: with 2, one part uploads while the next fills, which matters against S3 itself,
#: where each part waits a network round trip (figures: ``benchmarks/README.md``).
MAX_PARTS_IN_FLIGHT = 2


def is_s3(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is s3fs's S3 filesystem, whose writes stay invisible until complete (not imported here: a
    path on S3 has already imported it)."""
    s3fs = sys.modules.get("s3fs")
    return s3fs is not None and isinstance(fs, s3fs.S3FileSystem)


def marker_path(target: ObjectStoragePath, instance_digest: str) -> ObjectStoragePath:
    """``<folder>/.<name>.upload-<instance_digest>``: the hidden object holding the ID of the task instance's upload
    of ``target``."""
    return target.parent / f".{target.name}.upload-{instance_digest}"


def remove_stale_upload(target: ObjectStoragePath, instance_digest: str) -> str | None:
    """Abort the upload of ``target`` that an earlier, killed try of the same task instance left, and delete its
    marker.

    :return: the aborted upload's ID, or ``None`` when no marker was there.
    """
    fs, marker = target.fs, marker_path(target, instance_digest)
    try:
        upload_id = fs.cat_file(marker.path).decode()
    except FileNotFoundError:
        return None
    bucket, key, _ = fs.split_path(target.path)
    with suppress(FileNotFoundError):  # NoSuchUpload: it was completed or aborted after all
        fs.abort_mpu(bucket, key, upload_id)
    fs.rm_file(marker.path)
    return upload_id


class S3FinalUpload:
    """A binary writer into the S3 key of ``target`` that nothing sees before :meth:`complete`.

    Written from one thread (the store's helper thread); :meth:`close` waits for the parts in flight,
    :meth:`complete` sends the rest and completes the upload, :meth:`abort` throws it away.

    :param target: the final object.
    :param instance_digest: the task instance's digest, for the marker (:func:`marker_path`).
    :raises OSError: (s3fs's translation of the S3 error) from :meth:`write`, :meth:`close`, :meth:`complete`
        when S3 refuses a request after s3fs's own retries.
    """

    def __init__(self, target: ObjectStoragePath, instance_digest: str) -> None:
        self._fs: Any = target.fs
        self._path = target.path
        self._marker = marker_path(target, instance_digest).path
        self._bucket, self._key, _ = self._fs.split_path(target.path)
        # Part buffers are reused once uploaded: at most MAX_PARTS_IN_FLIGHT + 1 per result, filled in place.
        self._buffer = bytearray(PART_BYTES)
        self._filled = 0
        self._spare: list[bytearray] = []
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._in_flight: deque[tuple[int, bytearray, str, Future[dict[str, Any]]]] = deque()
        # CRC32C (as ints) of every byte written, and of the part being filled.
        self._crc = self._part_crc = 0

    def write(self, chunk: bytes) -> int:
        """Copy ``chunk`` into the part being filled; a full part is sent."""
        self._crc = google_crc32c.extend(self._crc, chunk)
        start = 0
        while start < len(chunk):
            end = min(len(chunk), start + PART_BYTES - self._filled)
            # google-crc32c reads only ``bytes``; a slice of all of ``chunk`` is ``chunk`` itself, not a copy.
            self._part_crc = google_crc32c.extend(self._part_crc, chunk[start:end])
            self._buffer[self._filled : self._filled + end - start] = memoryview(chunk)[start:end]
            self._filled += end - start
            start = end
            if self._filled == PART_BYTES:  # every part but the last is PART_BYTES long (as R2 requires)
                self._send(self._buffer)
                self._buffer = self._spare.pop() if self._spare else bytearray(PART_BYTES)
                self._filled = 0
        return len(chunk)

    def flush(self) -> None:
        """Nothing to do: bytes go out a whole part at a time."""

    def close(self) -> None:
        """Wait for the parts in flight (a failed one raises); the rest waits for :meth:`complete`."""
        self._wait(0)

    def complete(self) -> None:
        """Send what is left and make the object visible: complete the upload (or put a small object whole)."""
        rest = self._buffer[: self._filled]
        self._filled = 0
        whole = crc32c_text(self._crc)
        if self._upload_id is None:
            self._fs.call_s3(
                "put_object",
                Bucket=self._bucket,
                Key=self._key,
                Body=rest,
                ChecksumAlgorithm="CRC32C",
                ChecksumCRC32C=whole,
            )
        else:
            if rest:
                self._send(rest)
            self._wait(0)
            self._fs.call_s3(
                "complete_multipart_upload",
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
                ChecksumCRC32C=whole,
                ChecksumType="FULL_OBJECT",
            )
            self._upload_id = None  # complete: nothing for abort() to throw away
            self._fs.rm_file(self._marker)
        self._fs.invalidate_cache(self._path)

    def abort(self) -> None:
        """Throw the upload away (its parts are deleted) and its marker with it."""
        self._filled = 0
        while self._in_flight:  # a part still uploading would be stored after the abort
            with suppress(Exception):
                self._in_flight.popleft()[3].result()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with suppress(FileNotFoundError):
                self._fs.abort_mpu(self._bucket, self._key, upload_id)
            self._fs.rm_file(self._marker)

    def _send(self, data: bytearray) -> None:
        """Upload ``data`` as the next part (not changed until its upload is done), beginning the upload first."""
        if self._upload_id is None:
            self._start()
        number = len(self._parts) + len(self._in_flight) + 1
        crc, self._part_crc = crc32c_text(self._part_crc), 0
        call = self._fs._call_s3(
            "upload_part",
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
            ChecksumCRC32C=crc,
        )
        self._in_flight.append((number, data, crc, asyncio.run_coroutine_threadsafe(call, self._fs.loop)))
        self._wait(MAX_PARTS_IN_FLIGHT - 1)

    def _start(self) -> None:
        upload = self._fs.call_s3(
            "create_multipart_upload",
            Bucket=self._bucket,
            Key=self._key,
            ChecksumAlgorithm="CRC32C",
            ChecksumType="FULL_OBJECT",
        )
        self._upload_id = upload["UploadId"]
        self._fs.pipe_file(self._marker, upload["UploadId"].encode())

    def _wait(self, most: int) -> None:
        """Wait until at most ``most`` parts are in flight, oldest first."""
        while len(self._in_flight) > most:
            number, data, crc, future = self._in_flight[0]
            answer = future.result()
            self._in_flight.popleft()
            if len(data) == PART_BYTES:
                self._spare.append(data)
            self._parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32C": crc})
