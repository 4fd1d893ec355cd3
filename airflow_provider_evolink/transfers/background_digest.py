"""A sha256 computed on a helper thread while the transfer writes: the hash off the download's hot path.

hashlib and file or socket writes release the GIL for large buffers, so hashing chunk *n* on a helper thread
overlaps writing chunk *n* and reading chunk *n + 1* on the task's thread. It measured 0.49–0.51 × ``curl -o`` →
0.54–0.64 × for a 1 GiB download (``benchmarks/download.py``, ``benchmarks/README.md``).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["BackgroundDigest"]


class BackgroundDigest:
    """``hashlib.sha256`` fed from a helper thread, at most one chunk behind the caller.

    Holding one chunk at a time keeps memory flat in the file size. :meth:`close` ends the thread; the object
    cannot be used afterwards.
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evolink-sha256")
        self._pending: Future[None] | None = None

    def update(self, chunk: bytes) -> None:
        """Hash ``chunk`` (bytes, not to be changed afterwards) after the previous one, on the helper thread."""
        self._wait()
        self._pending = self._executor.submit(self._digest.update, chunk)

    def hexdigest(self) -> str:
        """The hex digest of every chunk given so far (waits for the last one)."""
        self._wait()
        return self._digest.hexdigest()

    def close(self) -> None:
        """Finish the chunk in hand and stop the helper thread. Safe to call twice."""
        try:
            self._wait()
        finally:
            self._executor.shutdown(wait=True)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
