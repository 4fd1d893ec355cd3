"""
What an ``evolink`` Airflow connection resolves to, and the HTTP client settings built from it.

The connection (API reference: ``airflow_provider_evolink/api_reference/evolink-api.md``, "Authentication"):
``password`` = API key (required), ``host`` = API base URL, extras ``timeout`` (seconds per request), ``max_retries``
(per request), ``outage_tolerance`` (seconds a wait or a save outlasts transient failures) and ``files_base_url`` (the
files API host) and ``batch_reads`` (``auto``/``on``/``off``: the triggerer's shared reads); every default is in
``defaults.py``. :func:`http_url` and
:func:`number_extra` check any further host or number extra the same way, so a second host (e.g. a files API)
is one more field of :class:`ConnectionSettings`.
"""

from __future__ import annotations

import functools
import math
import os
import ssl
import sys
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_evolink import __version__
from airflow_provider_evolink.defaults import (
    BATCH_READS_MODES,
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_READS,
    DEFAULT_FILES_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_OUTAGE_TOLERANCE,
    DEFAULT_TIMEOUT,
)
from airflow_provider_evolink.exceptions import EvoLinkConfigError
from airflow_provider_evolink.retry import OutageTolerance, RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FILES_BASE_URL",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "BearerAuth",
    "ConnectionSettings",
    "DeferredTrustContext",
    "host_client",
    "http_timeout",
    "http_url",
    "number_extra",
    "settings_from_connection",
    "tls_context",
]

USER_AGENT = f"airflow-provider-evolink/{__version__}"


@dataclass(frozen=True)
class ConnectionSettings:
    """A resolved connection. ``api_key`` is left out of ``repr`` so it never reaches a log.

    :param base_url: the API root without a trailing slash or ``/v1`` (e.g. ``https://api.evolink.ai``).
    :param api_key: the bearer token.
    :param timeout: seconds allowed for one HTTP read or write.
    :param max_retries: retries of a retryable failure per request.
    :param outage_tolerance: seconds transient failures may last in a row while waiting for a task or saving
        its results.
    :param files_base_url: the files API root (extra ``files_base_url``), where :meth:`EvoLinkHook.upload_file`
        sends uploads.
    :param batch_reads: extra ``batch_reads``, one of ``defaults.BATCH_READS_MODES``: whether triggers of one
        triggerer read their tasks together (``POST /v1/tasks/batch``;
        :mod:`airflow_provider_evolink.triggers.coalescer`).
    """

    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    max_retries: int
    outage_tolerance: float = DEFAULT_OUTAGE_TOLERANCE
    files_base_url: str = DEFAULT_FILES_BASE_URL
    batch_reads: str = DEFAULT_BATCH_READS

    @functools.cached_property
    def retry_policy(self) -> RetryPolicy:
        """The provider's retry policy with this connection's ``max_retries``."""
        return RetryPolicy(max_retries=self.max_retries)

    def outage_tolerance_for(self, what: str, *, deadline: float | None = None, log: Any = None) -> OutageTolerance:
        """An :class:`~airflow_provider_evolink.retry.OutageTolerance` of ``outage_tolerance`` seconds for
        ``what`` (see there), with this connection's retry policy."""
        return OutageTolerance(what, self.outage_tolerance, deadline=deadline, policy=self.retry_policy, log=log)


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <key>`` on the requests of the client it is given to; hidden from ``repr``."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Bearer {api_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


class DeferredTrustContext(ssl.SSLContext):
    """httpx's default TLS settings (``httpx.create_ssl_context()``: certificates required, host names checked,
    ``SSLKEYLOGFILE`` honoured, CAs from ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi's bundle), with
    the CA bundle loaded at the first TLS handshake instead of at construction.

    Loading certifi's bundle costs CPU (``benchmarks/README.md``) that a client talking plain ``http://`` (an
    emulator, a proxy on the same host) never needs. Verification is
    never weaker: the context requires certificates and checks host names from the start, so a handshake that
    somehow ran before the bundle loaded would fail, not pass. Create it with :meth:`create`.
    """

    _trust_lock: threading.Lock
    _trust_locations: tuple[str | None, str | None]  # (cafile, capath); neither: certifi's bundle
    _trusted = False

    @classmethod
    def create(cls) -> DeferredTrustContext:
        """The context, with the CA locations chosen from the environment now, as httpx does."""
        context = cls(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname, as create_default_context
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            context.keylog_filename = keylog
        cafile = os.environ.get("SSL_CERT_FILE") or None
        context._trust_locations = (cafile, None if cafile else os.environ.get("SSL_CERT_DIR") or None)
        context._trust_lock = threading.Lock()
        return context

    @property
    def trust_loaded(self) -> bool:
        """Whether the CA bundle has been loaded (by a handshake or :meth:`load_trust`)."""
        return self._trusted

    def load_trust(self) -> None:
        """Load the CA bundle now, once (thread-safe)."""
        with self._trust_lock:
            if self.trust_loaded:
                return
            cafile, capath = self._trust_locations
            if cafile is None and capath is None:
                import certifi

                cafile = certifi.where()
            self.load_verify_locations(cafile=cafile, capath=capath)
            self._trusted = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        self.load_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # type: ignore[override]
        self.load_trust()
        return super().wrap_bio(*args, **kwargs)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client of the process shares, the sync ones and the triggers' aiohttp pool
    (:class:`DeferredTrustContext`): built once, the CA bundle loaded at the first HTTPS connection. Each
    ``httpx.Client`` would otherwise load the bundle itself, and a transfer makes two (API and result host)."""
    return DeferredTrustContext.create()


def http_timeout(seconds: float) -> httpx.Timeout:
    """Per-request timeouts: connect fast or fail, reads may be slow, and a generous pool wait (thousands of
    triggers queue there)."""
    return httpx.Timeout(seconds, connect=min(10.0, seconds), pool=max(60.0, seconds))


def settings_from_connection(conn: Connection, extra: Mapping[str, Any], conn_id: str) -> ConnectionSettings:
    """Check and resolve a connection.

    :param conn: the Airflow connection; ``extra``: its parsed extras (read sync or async by the caller).
    :raises EvoLinkConfigError: no API key, a host or ``files_base_url`` that is not an http(s) URL, or a bad
        ``timeout`` (must be > 0 seconds), ``max_retries`` (a whole number ≥ 0), ``outage_tolerance`` (≥ 0
        seconds) or ``batch_reads`` (``auto``, ``on`` or ``off``); the message names the connection and field.
    """
    where = f"EvoLink connection {conn_id!r}"
    api_key = (conn.password or "").strip()
    if not api_key:
        raise EvoLinkConfigError(f"{where} has no API key: set its password (API Key) field")
    base_url = http_url(conn.host, DEFAULT_BASE_URL, f"{where}: host", port=conn.port)
    timeout = number_extra(extra, "timeout", DEFAULT_TIMEOUT, where)
    if not (math.isfinite(timeout) and timeout > 0):
        raise EvoLinkConfigError(f"{where}: extra 'timeout' must be a number of seconds > 0, got {timeout!r}")
    retries = number_extra(extra, "max_retries", DEFAULT_MAX_RETRIES, where)
    if not (math.isfinite(retries) and retries >= 0 and retries == int(retries)):
        raise EvoLinkConfigError(f"{where}: extra 'max_retries' must be a whole number >= 0, got {retries!r}")
    tolerance = number_extra(extra, "outage_tolerance", DEFAULT_OUTAGE_TOLERANCE, where)
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise EvoLinkConfigError(
            f"{where}: extra 'outage_tolerance' must be a number of seconds >= 0, got {tolerance!r}"
        )
    files_base_url = http_url(extra.get("files_base_url"), DEFAULT_FILES_BASE_URL, f"{where}: extra 'files_base_url'")
    batch_reads = extra.get("batch_reads") or DEFAULT_BATCH_READS
    if batch_reads not in BATCH_READS_MODES:
        raise EvoLinkConfigError(
            f"{where}: extra 'batch_reads' must be one of {', '.join(BATCH_READS_MODES)}, got {batch_reads!r}"
        )
    return ConnectionSettings(
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        max_retries=int(retries),
        outage_tolerance=tolerance,
        files_base_url=files_base_url,
        batch_reads=batch_reads,
    )


def http_url(value: str | None, default: str, what: str, *, port: int | None = None) -> str:
    """An http(s) root URL from a connection field: ``default`` when empty, ``https://`` assumed without a
    scheme, ``port`` added when the URL has none, no trailing slash or ``/v1`` (every path starts with it).

    :param what: the field, for messages (e.g. ``EvoLink connection 'evolink_default': host``).
    :raises EvoLinkConfigError: not a valid http(s) URL with a host name.
    """
    url = (value or "").strip() or default
    if "://" not in url:
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        has_port = parts.port is not None
    except ValueError:
        raise EvoLinkConfigError(f"{what} {value!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EvoLinkConfigError(f"{what} must be an http(s) URL such as {default}, got {value!r}")
    if port and not has_port:
        url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return url.rstrip("/").removesuffix("/v1")


def number_extra(extra: Mapping[str, Any], name: str, default: float, where: str) -> float:
    """A number from the connection extras; ``default`` when missing or empty.

    :raises EvoLinkConfigError: the value is not a number (booleans included), naming the extra.
    """
    # The UI stores an emptied field as "" or None: both mean the default (strings come from URI connections).
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return float(default)
    if isinstance(value, bool):
        raise EvoLinkConfigError(f"{where}: extra {name!r} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EvoLinkConfigError(f"{where}: extra {name!r} must be a number, got {value!r}") from None


def host_client(settings: ConnectionSettings, base_url: str) -> httpx.Client:
    """A sync client for one EvoLink host (the API, or the files host): bearer auth with the connection's key,
    User-Agent, per-request timeouts and the provider's TLS context. The caller closes it."""
    return httpx.Client(
        base_url=base_url,
        auth=BearerAuth(settings.api_key),
        headers={"User-Agent": USER_AGENT},
        timeout=http_timeout(settings.timeout),
        verify=tls_context(),
    )
