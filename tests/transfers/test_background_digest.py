"""The transfer's sha256 on a helper thread: the same digest as hashlib, one chunk in flight at most."""

from __future__ import annotations

import hashlib
import os
import threading

from airflow_provider_evolink.transfers.background_digest import BackgroundDigest


def test_the_digest_equals_hashlibs_over_the_same_chunks() -> None:
    chunks = [os.urandom(size) for size in (0, 1, 4096, 1 << 20, 12345)]
    digest = BackgroundDigest()
    try:
        for chunk in chunks:
            digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    finally:
        digest.close()


def test_hashing_runs_on_a_helper_thread_that_close_ends() -> None:
    seen: list[str] = []

    class Spy:
        def update(self, chunk: bytes) -> None:
            seen.append(threading.current_thread().name)

        def hexdigest(self) -> str:
            return ""

    digest = BackgroundDigest()
    digest._digest = Spy()  # type: ignore[assignment]
    digest.update(b"x")
    digest.hexdigest()
    digest.close()
    digest.close()  # twice is harmless

    assert seen
    assert seen[0].startswith("evolink-sha256")
    assert not any(thread.name.startswith("evolink-sha256") for thread in threading.enumerate())
