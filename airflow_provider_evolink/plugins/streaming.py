"""
Reading a byte range of a stored object from any ``ObjectStoragePath`` store, with flat memory.

The object is read in :data:`CHUNK_BYTES` pieces through its filesystem's own file object (ranged GETs on
object stores), so memory stays flat whatever the object's size. ``airflow_provider_evolink.ranges`` parses
the ``Range`` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Bytes read from the store and sent at a time (also the object-store read block size).
CHUNK_BYTES = 1 << 20


def read_range(path: ObjectStoragePath, start: int, end: int) -> Iterator[bytes]:
    """Yield bytes ``[start, end)`` of ``path``, at most :data:`CHUNK_BYTES` at a time.

    Stops early if the object turns out shorter than expected (it was replaced meanwhile); the file is closed
    when the consumer stops, e.g. a browser that seeks elsewhere and drops the connection.
    """
    # The filesystem's own reader: ObjectStoragePath.open would also report every read to hook lineage.
    with path.fs.open(path.path, "rb", block_size=CHUNK_BYTES) as source:
        source.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = source.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
