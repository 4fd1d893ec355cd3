"""The transfer's writer thread: same bytes and sha256 as writing inline, errors surface, memory stays bounded."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from airflow_provider_evolink.transfers.background_writer import BackgroundWriter


def test_writes_every_chunk_in_order_and_returns_their_sha256(tmp_path: Path) -> None:
    chunks = [os.urandom(size) for size in (0, 1, 4096, 1 << 20, 12345)] * 5
    target = tmp_path / "out.bin"

    writer = BackgroundWriter(target.open("wb"), max_pending=2)
    for chunk in chunks:
        writer.write(chunk)
    digest = writer.close()

    assert target.read_bytes() == b"".join(chunks)
    assert digest == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert writer.close() == digest  # twice is harmless


def test_flush_writes_everything_queued_before_returning(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    writer = BackgroundWriter(target.open("wb"))
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

    writer = BackgroundWriter(Recorder())
    writer.write(b"x")
    writer.close()

    assert threads == ["evolink-store-writer"]
    assert not any(thread.name == "evolink-store-writer" for thread in threading.enumerate())


def test_a_failed_write_is_raised_to_the_caller_and_the_file_still_closed() -> None:
    class Full(io.BytesIO):
        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    out = Full()
    writer = BackgroundWriter(out, max_pending=1)

    writer.write(b"chunk")

    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert out.closed
