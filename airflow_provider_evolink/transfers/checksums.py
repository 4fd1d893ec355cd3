"""Checksums of stored results: CRC32C (the default, as S3 and GCS store it) or sha256.

The transfer puts one in each Asset event (``EvoLinkToStorageOperator``'s ``checksum``), computed as the bytes
stream by, on the download's own thread. CRC32C is what object stores keep for their own integrity checks, so
it costs next to nothing: google-crc32c's hardware instruction path runs at about 27 GB/s on the benchmark
machine, against 1.8 GB/s for OpenSSL's sha256 with the CPU's SHA extensions. At 1 GiB on two cores that was
0.6 s of CPU per save, most of what kept a save to local disk under 0.8 × ``curl -o`` (``benchmarks/README.md``,
sessions 4 and 5). sha256 stays one argument away for a cryptographic digest.

Values are written as their stores show them: CRC32C as the base64 of its four big-endian bytes (S3's
``ChecksumCRC32C``, GCS's ``crc32c``), sha256 as hex (as ``sha256sum`` prints it).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Literal, Protocol, get_args

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["CHECKSUMS", "Checksum", "ChecksumName", "crc32c_text", "file_checksum", "new_checksum"]

ChecksumName = Literal["crc32c", "sha256"]
#: The algorithms ``EvoLinkToStorageOperator(checksum=...)`` accepts; the first is the default.
CHECKSUMS: tuple[ChecksumName, ...] = get_args(ChecksumName)
#: Bytes read at a time when checking an existing file: memory stays flat whatever the file size.
READ_BYTES = 1 << 20


class Checksum(Protocol):
    """A running checksum: :meth:`update` with each chunk in order, then :meth:`value`."""

    def update(self, data: bytes, /) -> object: ...

    def value(self) -> str: ...


def crc32c_text(crc: int) -> str:
    """A CRC32C as S3 (``ChecksumCRC32C``) and GCS (``crc32c``) show it: the base64 of its four big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


class _Crc32c:
    def __init__(self) -> None:
        import google_crc32c  # imported when a save starts: DAG files do not pay for it

        self._extend = google_crc32c.extend
        self._crc = 0

    def update(self, data: bytes, /) -> None:
        self._crc = self._extend(self._crc, data)

    def value(self) -> str:
        return crc32c_text(self._crc)


class _Sha256:
    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, data: bytes, /) -> None:
        self._digest.update(data)

    def value(self) -> str:
        return self._digest.hexdigest()


def new_checksum(name: ChecksumName) -> Checksum:
    """An empty running checksum of algorithm ``name`` (one of :data:`CHECKSUMS`).

    :raises ValueError: ``name`` is not one of :data:`CHECKSUMS`.
    """
    if name == "crc32c":
        return _Crc32c()
    if name == "sha256":
        return _Sha256()
    raise ValueError(f"checksum must be one of {', '.join(map(repr, CHECKSUMS))}, got {name!r}")


def file_checksum(path: ObjectStoragePath, name: ChecksumName) -> str:
    """The ``name`` checksum of the file at ``path``, read ``READ_BYTES`` at a time.

    :raises OSError: (or the store's own error) the file cannot be read.
    """
    checksum = new_checksum(name)
    with path.open("rb") as source:
        while chunk := source.read(READ_BYTES):
            checksum.update(chunk)
    return checksum.value()
