"""
One result's download across attempts: what is fetched and where it goes, the sink it streams into, the bytes
announced, why the last attempt fell short, and how long attempts have been failing (the state the transfer's
resume/restart loop reads; the loop itself is :class:`~airflow_provider_evolink.transfers.evolink_to_storage.
EvoLinkToStorageOperator`'s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.exceptions import EvoLinkResponseError, EvoLinkResultHostError, EvoLinkTransportError
from airflow_provider_evolink.retry import OutageTolerance
from airflow_provider_evolink.transfers.sinks import sink_class

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.models.responses import TaskDetail
    from airflow_provider_evolink.transfers.checksums import ChecksumName
    from airflow_provider_evolink.transfers.sinks import FinalUpload, StoredFile, TemporaryObject

__all__ = ["Download"]


class Download:
    """One result's download across attempts: what is fetched and where it goes, what it streams into (the
    temporary object, or on S3 the upload of the target), the bytes announced, why the last attempt fell short,
    and how long attempts have been failing.

    :param url: the signed result link (never logged).
    :param number: the result's 1-based position in ``task.results``.
    :param detail: the completed task detail.
    :param folder: the destination folder.
    :param instance_digest: the suffix of the temporary object (S3: of the upload's marker), the same for every try of
        one task instance (:func:`~airflow_provider_evolink.transfers.sinks.instance_digest`).
    :param checksum_name: the checksum computed as the file streams (``checksums.py``).
    """

    def __init__(
        self,
        url: str,
        number: int,
        detail: TaskDetail,
        folder: ObjectStoragePath,
        instance_digest: str,
        checksum_name: ChecksumName,
    ) -> None:
        self.url, self.number, self.detail, self.folder = url, number, detail, folder
        self.instance_digest = instance_digest
        self.checksum_name = checksum_name
        self.label = f"result {number} of {len(detail.results)} of EvoLink task {detail.id}"
        #: How long attempts without progress may fail (the connection's ``outage_tolerance``).
        self.outage = OutageTolerance(self.label)
        self.target: ObjectStoragePath | None = None
        self.sink: TemporaryObject | FinalUpload | None = None
        self.total: int | None = None  # bytes, from Content-Length or Content-Range
        self.cause = ""
        self.error: EvoLinkResultHostError | None = None

    @property
    def received(self) -> int:
        """Bytes written so far."""
        return self.sink.size if self.sink else 0

    def request_headers(self) -> dict[str, str]:
        # identity: Content-Length and Range then count the bytes that are written.
        resume = {"Range": f"bytes={self.received}-"} if self.received else {}
        return {"Accept-Encoding": "identity"} | resume

    def remove_stale(self, target: ObjectStoragePath, log: Any) -> None:
        """Remove what an earlier, killed try of this task instance left for ``target``."""
        sink_class(target).remove_stale(target, self.instance_digest, self.label, log)

    def start(self, target: ObjectStoragePath) -> None:
        """The first answer named the file: open what it streams into."""
        self.target = target
        self.sink = sink_class(target)(target, self.instance_digest, self.checksum_name)

    def open_sink(self) -> TemporaryObject | FinalUpload:
        if self.sink is None:
            raise RuntimeError(f"{self.label}: nothing open to write to")
        return self.sink

    def continues(self, offset: int, size: int | None, log: Any) -> bool:
        """Whether this body (starting at byte ``offset`` of a file of ``size`` bytes) continues what was written.
        When the host ignored or misread the Range, or the file changed, that is thrown away: a body from byte 0
        is then streamed from the start, any other is refused (``False``)."""
        sink = self.open_sink()
        if offset != sink.size or (None not in (self.total, size) and size != self.total):
            requested = sink.size
            sink.restart()
            self.total = None
            if offset != 0:
                self.failed(f"HTTP 206 from byte {offset} instead of {requested}")
                return False
            log.info("%s: the result host ignored the Range request; restarting", self.label)
        self.total = size if size is not None else self.total
        return True

    def finish(self, log: Any) -> StoredFile | None:
        """Commit a complete body; ``None`` (with :attr:`cause`) for a short one.

        :raises EvoLinkResponseError: more bytes than announced.
        """
        sink = self.open_sink()
        if self.target is not None and (self.total is None or sink.size == self.total):
            stored = sink.commit(self.target)
            log.info(
                "Stored %s: %d bytes, %s %s, at %s",
                self.label,
                stored.size,
                self.checksum_name,
                stored.checksum,
                self.target,
            )
            return stored
        if self.total is not None and sink.size > self.total:
            raise EvoLinkResponseError(
                f"{self.label}: the result host sent {sink.size} bytes but announced {self.total}"
            )
        self.failed(f"body ended after {sink.size} of {self.total} bytes")
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
        if self.sink is not None:
            self.sink.discard(log)
