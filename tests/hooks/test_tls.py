"""The shared TLS context of the sync clients: certificates verified exactly as httpx's defaults do, against a real
HTTPS server on 127.0.0.1, with the CA bundle loaded only when a client first speaks TLS (never for ``http://``)."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.hooks.settings import DeferredTrustContext, tls_context


def _certificate(name: str, key: Any, issuer: Any, issuer_key: Any, *, ca: bool, hosts: list[str]) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


class Pki:
    """A CA and server certificates it signed, as PEM files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.folder = folder
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = _certificate("Test CA", self._ca_key, None, None, ca=True, hosts=[])
        self.ca_file = self._write("ca.pem", self._ca)

    def server(self, name: str, hosts: list[str]) -> tuple[Path, Path]:
        """(certificate chain file, key file) of a server certificate for ``hosts`` (IPs or DNS names)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate(name, key, self._ca.subject, self._ca_key, ca=False, hosts=hosts)
        key_file = self.folder / f"{name}.key"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return self._write(f"{name}.pem", certificate), key_file

    def _write(self, name: str, certificate: Any) -> Path:
        from cryptography.hazmat.primitives import serialization

        path = self.folder / name
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return path


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[tuple[Path, Path] | None], str]]:
    """``serve(certificate)``: an HTTP server on 127.0.0.1 answering ``ok``, over TLS with ``(chain, key)`` when
    given; returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(certificate: tuple[Path, Path] | None) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        scheme = "https" if certificate is not None else "http"
        return f"{scheme}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new process-wide context for the test (the environment is read when it is built), dropped afterwards."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE"):
        monkeypatch.delenv(name, raising=False)
    tls_context.cache_clear()
    yield
    tls_context.cache_clear()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def hook(evolink_connection: Callable[..., str]) -> EvoLinkHook:
    return EvoLinkHook(evolink_connection("http://127.0.0.1:9", "sk-test"))


def test_https_to_a_certificate_no_trusted_ca_signed_is_refused(
    fresh_tls: None, pki: Pki, serve: Callable[..., str], hook: EvoLinkHook
) -> None:
    url = serve(pki.server("server", ["127.0.0.1"]))

    with hook.result_client() as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get(url)


def test_https_is_verified_against_ssl_cert_file_and_the_host_name(
    fresh_tls: None, pki: Pki, serve: Callable[..., str], hook: EvoLinkHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))  # read when the context is built, as httpx does
    good = serve(pki.server("server", ["127.0.0.1"]))
    other_name = serve(pki.server("other", ["files.example.test"]))  # signed by the trusted CA, wrong name

    with hook.result_client() as client:
        assert client.get(good).text == "ok"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(other_name)


def test_the_ca_bundle_is_loaded_at_the_first_https_connection_once_and_never_for_http(
    fresh_tls: None,
    pki: Pki,
    serve: Callable[..., str],
    hook: EvoLinkHook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    loads: list[object] = []
    real_load = ssl.SSLContext.load_verify_locations

    def counting_load(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(kwargs or args)
        real_load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting_load)
    plain, secure = serve(None), serve(pki.server("server", ["127.0.0.1"]))

    api_client = hook.get_conn()
    with hook.result_client() as client:
        assert client.get(plain).text == "ok"
        assert loads == []  # clients built, plain HTTP spoken: no CA bundle
        assert client.get(secure).text == "ok"
    assert api_client.get(secure).text == "ok"  # the other client shares the loaded context

    assert loads == [{"cafile": str(pki.ca_file), "capath": None}]


def test_the_deferred_context_ends_up_as_httpx_defaults(fresh_tls: None) -> None:
    context = tls_context()
    reference = httpx.create_ssl_context()
    assert isinstance(context, DeferredTrustContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)  # before any load

    context.load_trust()

    assert context.trust_loaded
    assert context.get_ca_certs() == reference.get_ca_certs()
    assert context.cert_store_stats() == reference.cert_store_stats()
    assert (context.options, context.minimum_version, context.maximum_version) == (
        reference.options,
        reference.minimum_version,
        reference.maximum_version,
    )


async def test_the_triggers_shared_pool_verifies_certificates_with_the_same_context(
    fresh_tls: None,
    pki: Pki,
    serve: Callable[..., str],
    evolink_connection: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_evolink.exceptions import EvoLinkResponseError, EvoLinkTransportError

    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    good = serve(pki.server("server", ["127.0.0.1"]))
    other_name = serve(pki.server("other", ["files.example.test"]))
    trusted = EvoLinkHook(evolink_connection(good, "sk-test", "evolink_tls_good", max_retries=0))
    wrong = EvoLinkHook(evolink_connection(other_name, "sk-test", "evolink_tls_wrong", max_retries=0))
    try:
        # The handshake passes and the answer is read ("ok" is no task detail, hence the response error).
        with pytest.raises(EvoLinkResponseError, match="unexpected answer"):
            await trusted.aget_task("task-unified-1")
        with pytest.raises(EvoLinkTransportError, match="CERTIFICATE_VERIFY_FAILED"):
            await wrong.aget_task("task-unified-1")
    finally:
        await trusted.aclose()
        await wrong.aclose()
