"""Storage back ends for the transfer tests: a real local S3 endpoint (moto's server) and ``memory://``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

S3_CONN_ID = "aws_moto"
S3_BUCKET = "evolink-results"


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[str]:
    """A bucket on moto's S3 server, reachable as ``s3://aws_moto@evolink-results/...`` through s3fs."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(
            Bucket=S3_BUCKET
        )
        # The amazon provider's s3fs filesystem reads endpoint_url from the connection's extra.
        os.environ[f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "aws",
                "login": credentials["aws_access_key_id"],
                "password": credentials["aws_secret_access_key"],
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        )
        yield S3_BUCKET
    finally:
        os.environ.pop(f"AIRFLOW_CONN_{S3_CONN_ID.upper()}", None)
        server.stop()


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
