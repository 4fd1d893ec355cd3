"""Storage for the transfer tests: ``memory://`` (the S3 bucket on moto's server is in the root conftest)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def memory_folder() -> Iterator[str]:
    """A fresh ``memory://`` folder; Airflow registers no ``memory`` filesystem itself, so attach fsspec's."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach("memory", fs=fs)
    root = f"evolink-{uuid.uuid4().hex}"
    yield f"memory://{root}/videos"
    if fs.exists(f"/{root}"):
        fs.rm(f"/{root}", recursive=True)
