"""Writing a download on a helper thread, checksumming it on the reading one: the store off the download's hot path.

The task's thread reads the result from the socket and feeds each chunk to the checksum (``checksums.py``); a
helper thread writes it to the temporary object. Socket reads, hashlib's sha256 (on chunks over 2 KiB), file
writes and s3fs uploads (they wait on fsspec's IO thread) all release the GIL, and CRC32C (the default) takes
about 0.04 s per GiB, so reading and checksumming overlap with the store: on S3 the download goes on while a
multipart part uploads. Hashing on the helper, after its write, would give it a whole core's work while the
reading thread waits (figures: ``benchmarks/README.md``). At most ``max_pending`` chunks wait
for the helper, so memory stays flat in the file size.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_provider_evolink.transfers.checksums import Checksum

__all__ = ["BackgroundWriter", "Writable"]

#: Chunks (up to 1 MiB each from the socket) that may wait for the helper thread: under one S3 part.
DEFAULT_MAX_PENDING = 4


class Writable(Protocol):
    """What the helper thread writes to: a binary file object (local file, fsspec writer) or an S3 upload."""

    def write(self, chunk: bytes, /) -> Any: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class BackgroundWriter:
    """Checksum chunks as they come and write them to ``out`` on a helper thread, in order.

    :param out: a binary file object (local file or fsspec writer) or an S3 upload; :meth:`close` closes it.
    :param checksum: a new running checksum (``checksums.new_checksum``), fed every chunk.
    :param max_pending: chunks that may wait for the helper before :meth:`write` blocks.
    :raises OSError: (or whatever ``out.write`` raised) from :meth:`write` or :meth:`close`, once the helper
        failed to write; later chunks are dropped.
    """

    def __init__(self, out: Writable, checksum: Checksum, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._out = out
        self._checksum = checksum
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="evolink-store-writer", daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        """Checksum ``chunk`` (bytes, not changed afterwards) and queue it for writing."""
        self._raise_if_failed()
        self._checksum.update(chunk)
        self._queue.put(chunk)

    def flush(self) -> None:
        """Wait until every queued chunk is written, then flush ``out``."""
        self._queue.join()
        self._raise_if_failed()
        self._out.flush()

    def close(self) -> str:
        """Write what is queued, close ``out`` and stop the helper; the checksum's value over every chunk.

        Safe to call twice (the second call only returns the digest).
        """
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            try:
                self._out.close()
            finally:
                self._raise_if_failed()
        return self._checksum.value()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            try:
                if self._error is None:  # after a failure, keep taking chunks so the writer never blocks
                    self._out.write(chunk)
            except BaseException as error:  # handed to the task's thread, which raises it
                self._error = error
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
