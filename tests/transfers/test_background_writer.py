"""The transfer's writer thread: same bytes and checksum as writing inline, errors surface, memory stays bounded."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from pathlib import Path

import google_crc32c
import pytest

from airflow_provider_evolink.transfers.background_writer import BackgroundWriter
from airflow_provider_evolink.transfers.checksums import ChecksumName, new_checksum

CHECKSUM_OF = {
    "crc32c": lambda data: base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode(),
    "sha256": lambda data: hashlib.sha256(data).hexdigest(),
}


@pytest.mark.parametrize("name", ["crc32c", "sha256"])
def test_writes_every_chunk_in_order_and_returns_their_checksum(tmp_path: Path, name: ChecksumName) -> None:
    chunks = [os.urandom(size) for size in (0, 1, 4096, 1 << 20, 12345)] * 5
    target = tmp_path / "out.bin"

    writer = BackgroundWriter(target.open("wb"), new_checksum(name), max_pending=2)
    for chunk in chunks:
        writer.write(chunk)
    checksum = writer.close()

    assert target.read_bytes() == b"".join(chunks)
    assert checksum == CHECKSUM_OF[name](b"".join(chunks))
    assert writer.close() == checksum  # twice is harmless


def test_crc32c_is_written_as_s3_and_gcs_show_it() -> None:
    checksum = new_checksum("crc32c")
    checksum.update(b"1234")
    checksum.update(b"56789")

    # CRC-32C's check value (RFC 3720, B.4) is 0xE3069283; S3's ChecksumCRC32C and GCS's crc32c are its base64.
    assert base64.b64decode(checksum.value()) == bytes.fromhex("e3069283")


def test_flush_writes_everything_queued_before_returning(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    writer = BackgroundWriter(target.open("wb"), new_checksum("crc32c"))
    for _ in range(20):
        writer.write(b"x" * 4096)

    writer.flush()

    assert target.stat().st_size == 20 * 4096
    writer.close()


def test_writing_happens_on_a_helper_thread_that_close_ends() -> None:
    threads: list[str] = []

    class Recorder(io.BytesIO):
        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            threads.append(threading.current_thread().name)
            return len(chunk)

    writer = BackgroundWriter(Recorder(), new_checksum("crc32c"))
    writer.write(b"x")
    writer.close()

    assert threads == ["evolink-store-writer"]
    assert not any(thread.name == "evolink-store-writer" for thread in threading.enumerate())


def test_a_failed_write_is_raised_to_the_caller_and_the_file_still_closed() -> None:
    class Full(io.BytesIO):
        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    out = Full()
    writer = BackgroundWriter(out, new_checksum("crc32c"), max_pending=1)

    writer.write(b"chunk")

    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert out.closed
