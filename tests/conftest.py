"""Test-session setup: a throw-away AIRFLOW_HOME with SQLite, set before anything imports Airflow.

SQLite serves the tests that use Airflow inside this process (one writer, created in a second); every real Airflow
the tests start (tests/airflow_standalone.py) runs on the session's PostgreSQL instead (tests/servers.py).
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="evolink-airflow-home-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ.pop("EVOLINK_API_KEY", None)
# The example DAGs' status-read pace (read when a DAG file is parsed; 8 s by default): the session emulator renders
# at once, so a wait under dag.test() would only sleep through its first paced read. The real Airflows the tests
# start set their own.
os.environ["EVOLINK_POLL_INTERVAL"] = "0.5"

#: ``postgres``, ``redis_url`` (tests/servers.py) and ``airflow_standalone``: a real Airflow on PostgreSQL for the
#: end-to-end, browser and production tests (tests/airflow_standalone.py); tests/parallel.py marks the tests that
#: need one (``real_airflow``) and groups them for pytest-xdist.
pytest_plugins = ["servers", "airflow_standalone", "parallel"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.airflow_min("3.3", reason=...)`` / ``airflow_below("3.3", reason=...)``: skip, saying so, on
    an Airflow outside the range (``make test-compat`` runs the older lines)."""
    from packaging.version import Version

    from airflow_provider_evolink.compat import AIRFLOW_VERSION

    running = Version(Version(AIRFLOW_VERSION).base_version)
    for item in items:
        for marker in item.iter_markers("airflow_min"):
            if running < Version(marker.args[0]):
                why = marker.kwargs.get("reason", "a feature of that version")
                item.add_marker(pytest.mark.skip(reason=f"needs Airflow >= {marker.args[0]}, this is {running}: {why}"))
        for marker in item.iter_markers("airflow_below"):
            if running >= Version(marker.args[0]):
                why = marker.kwargs.get("reason", "what older lines do instead")
                item.add_marker(pytest.mark.skip(reason=f"tests Airflow < {marker.args[0]}, this is {running}: {why}"))


@pytest.fixture
def no_submission_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A context without ``task_state_store`` means no store at all, as on Airflow 3.3 (below it, the operator
    would turn to a Variable, which only a running task can reach)."""
    from airflow_provider_evolink import state_store

    monkeypatch.setattr(state_store, "AIRFLOW_V_3_3_PLUS", True)


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run every wait of the provider on a :class:`VirtualTime` clock."""
    from fakes import VirtualTime

    from airflow_provider_evolink import retry

    clock = VirtualTime()
    monkeypatch.setattr(retry, "monotonic", clock.monotonic)
    monkeypatch.setattr(retry, "sleep", clock.sleep)
    monkeypatch.setattr(retry, "asleep", clock.asleep)
    return clock


def _connection_json(base_url: str | None, api_key: str | None, **extra: object) -> str:
    """The ``AIRFLOW_CONN_<ID>`` JSON form of an EvoLink connection; ``None`` leaves the host or the key out."""
    connection: dict[str, object] = {"conn_type": "evolink", "extra": extra}
    if base_url is not None:
        connection["host"] = base_url
    if api_key is not None:
        connection["password"] = api_key
    return json.dumps(connection)


@pytest.fixture(scope="session")
def evolink_connection_json() -> Callable[..., str]:
    """``_connection_json``, for module- or session-scoped setups that set the variable themselves."""
    return _connection_json


@pytest.fixture
def evolink_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``set_connection(base_url, api_key, conn_id="evolink_default", **extra)``: point ``conn_id`` (an
    ``AIRFLOW_CONN_<ID>`` JSON variable) at ``base_url`` for one test, with ``extra`` as its extras; returns the ID.
    """

    def set_connection(
        base_url: str | None, api_key: str | None, conn_id: str = "evolink_default", **extra: object
    ) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", _connection_json(base_url, api_key, **extra))
        return conn_id

    return set_connection


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    """One EvoLink emulator for the session (instant processing, small videos), reachable as ``evolink_default``."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0, small_videos=True) as emu:
        os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = _connection_json(
            emu.base_url, emu.api_key, max_retries=2, files_base_url=emu.files_base_url
        )
        yield emu
        os.environ.pop("AIRFLOW_CONN_EVOLINK_DEFAULT", None)


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[Any]:
    """An emulator whose tasks stay processing for a minute: long past any deadline a test sets."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=60.0) as emu:
        yield emu


@pytest.fixture
def slow_conn_id(slow_emulator: Any, evolink_connection: Callable[..., str]) -> str:
    """``evolink_slow``: the slow emulator, without client retries (errors surface at once)."""
    return evolink_connection(slow_emulator.base_url, slow_emulator.api_key, "evolink_slow", max_retries=0)


S3_CONN_ID = "aws_moto"
S3_BUCKET = "evolink-results"
#: Unauthenticated actions moto allows before it checks every request: the IAM set-up and the bucket below.
_S3_SETUP_ACTIONS = 4


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[str]:
    """A private bucket on moto's S3 server with authentication ON, reachable as ``s3://aws_moto@evolink-results/``.

    moto authenticates nothing unless ``INITIAL_NO_AUTH_ACTION_COUNT`` is set (here through its ``reset-auth``
    endpoint): after the IAM user, its policy, its access key and the bucket are made, every request needs that
    user's keys, so an unsigned GET of an object is refused (403) as on AWS. moto cannot check query-string
    (presigned) signatures while authenticating (it reads only the ``Authorization`` header, and answers 500):
    :func:`_presigned_auth` teaches it, recomputing the SigV4 signature with the user's secret and checking expiry.
    """
    import boto3
    import httpx
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer

    # The S3 server's own access log (werkzeug) prints every request line, signed links included: that is the
    # storage service's log, not one Airflow or the provider writes, so it stays out of the output tests search.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    root = {"aws_access_key_id": "root", "aws_secret_access_key": "root", "region_name": "us-east-1"}
    try:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=str(_S3_SETUP_ACTIONS).encode()).raise_for_status()
        iam = boto3.client("iam", endpoint_url=endpoint, **root)
        iam.create_user(UserName="airflow")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="airflow", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="airflow")["AccessKey"]
        boto3.client("s3", endpoint_url=endpoint, **root).create_bucket(Bucket=S3_BUCKET)
        secrets = {key["AccessKeyId"]: key["SecretAccessKey"]}
        with pytest.MonkeyPatch.context() as patch:
            original = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action
            patch.setattr(
                ActionAuthenticatorMixin, "_authenticate_and_authorize_s3_action", _presigned_auth(original, secrets)
            )
            # The amazon provider's s3fs filesystem reads endpoint_url from the connection's extra.
            patch.setenv(
                f"AIRFLOW_CONN_{S3_CONN_ID.upper()}",
                json.dumps(
                    {
                        "conn_type": "aws",
                        "login": key["AccessKeyId"],
                        "password": key["SecretAccessKey"],
                        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                    }
                ),
            )
            yield S3_BUCKET
    finally:
        server.stop()


def _presigned_auth(original: Callable[..., None], secrets: dict[str, str]) -> Callable[..., None]:
    """moto's S3 authentication, plus SigV4 query-string (presigned URL) requests: their signature is recomputed
    with the access key's secret and must match, and the link must not have expired; otherwise 403."""
    from urllib.parse import parse_qsl, urlsplit

    from moto.s3.exceptions import S3AccessDeniedError

    def authenticate(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        query = dict(parse_qsl(urlsplit(self.uri).query, keep_blank_values=True))
        if "Authorization" in self.headers or not {"X-Amz-Signature", "Signature"} & set(query):
            return original(self, bucket_name, key_name)
        check = _valid_presigned_v4 if "X-Amz-Signature" in query else _valid_presigned_v2
        if not check(self.method, urlsplit(self.uri).path, query, self.headers, secrets):
            raise S3AccessDeniedError()
        return None

    return authenticate


def _valid_presigned_v2(method: str, path: str, query: dict[str, str], headers: Any, secrets: dict[str, str]) -> bool:
    """Whether a SigV2 query-string signature (what s3fs makes by default) is right and unexpired."""
    import base64
    import hashlib
    import hmac
    import time
    from urllib.parse import unquote

    if time.time() > int(query["Expires"]) or (secret := secrets.get(query["AWSAccessKeyId"])) is None:
        return False
    to_sign = f"{method}\n{headers.get('Content-MD5', '')}\n{headers.get('Content-Type', '')}\n{query['Expires']}\n"
    to_sign += unquote(path)
    expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(expected, query["Signature"])


def _valid_presigned_v4(method: str, path: str, query: dict[str, str], headers: Any, secrets: dict[str, str]) -> bool:
    """Whether a SigV4 query-string signature is right and unexpired (AWS's "Authenticating requests: using
    query parameters" algorithm)."""
    import datetime
    import hashlib
    import hmac
    from urllib.parse import quote

    access_key, date, region, service, _ = query["X-Amz-Credential"].split("/")
    signed_at = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    if datetime.datetime.now(datetime.UTC) > signed_at + datetime.timedelta(seconds=int(query["X-Amz-Expires"])):
        return False
    if (secret := secrets.get(access_key)) is None:
        return False
    encode = functools.partial(quote, safe="-_.~")
    canonical_query = "&".join(
        f"{encode(name)}={encode(value)}" for name, value in sorted(query.items()) if name != "X-Amz-Signature"
    )
    signed_headers = query["X-Amz-SignedHeaders"]
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers.split(";"))
    canonical = "\n".join(
        [method, quote(path, safe="/-_.~%"), canonical_query, canonical_headers, signed_headers, "UNSIGNED-PAYLOAD"]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{query['X-Amz-Date']}\n{scope}\n{digest}"
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), query["X-Amz-Signature"])
