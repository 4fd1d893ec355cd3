"""
Where one result streams while it downloads, so that no partial file is ever visible at its target: a temporary
object beside the target (every store but S3), or on S3 a multipart upload of the target itself (``s3_upload.py``).

Both are named by :func:`instance_digest`, the same for every try of one task instance: the next try finds and
removes what a killed one left, and never touches another run's or task's.
"""

from __future__ import annotations

import hashlib
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_evolink.transfers.checksums import new_checksum

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_evolink.transfers.background_writer import Writable
    from airflow_provider_evolink.transfers.checksums import ChecksumName

__all__ = ["WRITE_BLOCK_BYTES", "FinalUpload", "Sink", "StoredFile", "TemporaryObject", "instance_digest", "sink_class"]

#: Buffer of the temporary object's writer on object stores other than S3 (bytes; one multipart part where the store
#: has them; S3 has its own, ``s3_upload.PART_BYTES``): fsspec's 50 MiB default would make memory grow with the
#: number of downloads (``benchmarks/README.md`` has the figures). Local files ignore it.
WRITE_BLOCK_BYTES = 5 << 20


class StoredFile(NamedTuple):
    """One stored result: its URI, size in bytes and checksum (``checksums.py``: the operator's algorithm)."""

    uri: str
    size: int
    checksum: str


class Sink:
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


class TemporaryObject(Sink):
    """The temporary object beside ``target`` that one result streams into (every store but S3).

    fsspec commits a writer on close even when writing failed, so nothing is ever written to ``target``
    itself: :meth:`commit` moves a complete file into place, :meth:`discard` deletes an incomplete one.
    """

    def __init__(self, target: ObjectStoragePath, instance_digest: str, checksum_name: ChecksumName) -> None:
        self.path = self.path_for(target, instance_digest)
        self.checksum_name = checksum_name
        self._open()

    def __str__(self) -> str:
        return f"the temporary file {self.path}"

    @staticmethod
    def path_for(target: ObjectStoragePath, instance_digest: str) -> ObjectStoragePath:
        """``<folder>/.<name>.part-<instance_digest>``: hidden, and found again by the next try of the same task
        instance."""
        return target.parent / f".{target.name}.part-{instance_digest}"

    @classmethod
    def remove_stale(cls, target: ObjectStoragePath, instance_digest: str, label: str, log: Any) -> None:
        """Delete the temporary object an earlier, killed try of the same task instance left beside ``target``."""
        stale = cls.path_for(target, instance_digest)
        if stale.exists():
            log.warning("%s: removing %s, left behind by an earlier try that was stopped", label, stale)
            stale.unlink(missing_ok=True)

    def _writer(self) -> Writable:
        # Not ObjectStoragePath.open: its lineage wrapper costs CPU per write and would report the temporary name.
        return self.path.fs.open(self.path.path, "wb", block_size=WRITE_BLOCK_BYTES)

    def restart(self) -> None:
        """Empty the file (reopening truncates it on every store; object stores cannot seek back)."""
        self._out.close()
        self._open()

    def commit(self, target: ObjectStoragePath) -> StoredFile:
        """Move into place: a rename on local disks, a server-side copy + delete on object stores."""
        checksum = self._out.close()
        self.path.move(target)
        return StoredFile(str(target), self.size, checksum)

    def _drop(self) -> None:
        self.path.unlink(missing_ok=True)


class FinalUpload(Sink):
    """S3: one result streams into an upload of ``target`` itself, invisible until :meth:`commit` completes it
    (``s3_upload.py``): no temporary object, so no server-side copy."""

    def __init__(self, target: ObjectStoragePath, instance_digest: str, checksum_name: ChecksumName) -> None:
        self.target, self._instance_digest, self.checksum_name = target, instance_digest, checksum_name
        self._open()

    def __str__(self) -> str:
        return f"the upload of {self.target}"

    @staticmethod
    def remove_stale(target: ObjectStoragePath, instance_digest: str, label: str, log: Any) -> None:
        """Abort the upload of ``target`` an earlier, killed try of the same task instance left incomplete."""
        from airflow_provider_evolink.transfers.s3_upload import remove_stale_upload

        if (upload_id := remove_stale_upload(target, instance_digest)) is not None:
            log.warning(
                "%s: aborted upload %s of %s, left incomplete by an earlier try that was stopped",
                label,
                upload_id,
                target,
            )

    def _writer(self) -> Writable:
        from airflow_provider_evolink.transfers.s3_upload import S3FinalUpload

        self._upload = S3FinalUpload(self.target, self._instance_digest)
        return self._upload

    def restart(self) -> None:
        """Throw the upload away and start another (S3 cannot take back a part's bytes)."""
        with suppress(Exception):
            self._out.close()
        self._upload.abort()
        self._open()

    def commit(self, target: ObjectStoragePath) -> StoredFile:
        """Complete the upload: the object appears whole at ``target``."""
        from airflow.sdk.lineage import get_hook_lineage_collector

        checksum = self._out.close()
        self._upload.complete()
        get_hook_lineage_collector().add_output_asset(context=target, uri=str(target))
        return StoredFile(str(target), self.size, checksum)

    def _drop(self) -> None:
        self._upload.abort()


def sink_class(target: ObjectStoragePath) -> type[TemporaryObject | FinalUpload]:
    """Where a result for ``target`` streams: an upload of ``target`` itself on S3 (``s3_upload.py``), a temporary
    object beside it on every other store."""
    from airflow_provider_evolink.transfers.s3_upload import is_s3

    return FinalUpload if is_s3(target.fs) else TemporaryObject


def instance_digest(context: Context) -> str:
    """The suffix of this task instance's temporary objects (S3: upload markers): a digest of its DAG, run, task
    and map index, so the next try finds what a killed one left and never touches another run's or task's; a
    random one when the context has no task instance."""
    ti = context.get("ti")
    scope = [getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id", "map_index")]
    if None in scope:
        return uuid.uuid4().hex
    return hashlib.sha256("\n".join(map(str, scope)).encode()).hexdigest()[:16]
