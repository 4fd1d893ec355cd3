"""
EvoLinkHook: authentication and every HTTP call to the EvoLink API, sync (workers) and async (triggers).

API source: ``../shared/evolink-api/`` — ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``),
``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``), ``GET /v1/credits`` and the retry and
idempotency rules (``FACTS.md``).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import math
import random
import time
import uuid
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import httpcore
import httpx
import pydantic
from airflow.sdk import BaseHook
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from airflow_provider_evolink import __version__
from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkResponseError,
    EvoLinkTransportError,
    api_error_for_status,
)
from airflow_provider_evolink.models import (
    ApiErrorBody,
    Credits,
    CreditsResponse,
    EvoLinkRequest,
    TaskDetail,
    VideoGenerationTask,
    parse_request,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["DEFAULT_BASE_URL", "EvoLinkHook"]

DEFAULT_BASE_URL = "https://api.evolink.ai"
#: Seconds allowed for one HTTP read/write (connection extra ``timeout``).
DEFAULT_TIMEOUT = 30.0
#: Retries after the first attempt for retryable failures (connection extra ``max_retries``).
DEFAULT_MAX_RETRIES = 3
#: Longest wait honoured from a ``Retry-After`` header, and the cap of the exponential backoff (seconds).
MAX_RETRY_WAIT = 30.0
#: First backoff step (seconds); step n waits ``RETRY_INITIAL_WAIT * 2**(n-1)`` plus up to as much jitter.
RETRY_INITIAL_WAIT = 0.5
#: Bytes read from the socket at a time while downloading a result (httpcore's default is 64 KiB).
RESULT_READ_BYTES = 1 << 20
#: Connections one shared async client may open (all triggers of a triggerer share them).
ASYNC_POOL_SIZE = 64
USER_AGENT = f"airflow-provider-evolink/{__version__}"
_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")
#: Statuses whose ``Retry-After`` pauses every hook sharing an async client, not only the one that got it.
_PAUSE_STATUSES = frozenset({429, 503})

log = logging.getLogger(__name__)
_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class _Settings:
    """What a connection resolves to. ``api_key`` is left out of ``repr`` so it never reaches a log."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    max_retries: int


class _BearerAuth(httpx.Auth):
    """``Authorization: Bearer <key>`` on requests to the API only; the key is hidden from ``repr``."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Bearer {api_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth(<hidden>)"


def _timeout(seconds: float) -> httpx.Timeout:
    # Connect fast or fail; reads may be slow. The pool wait is generous: thousands of triggers queue there.
    return httpx.Timeout(seconds, connect=min(10.0, seconds), pool=max(60.0, seconds))


def _scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced: a server or library may echo the key into a message."""
    return text.replace(secret, "***") if secret and secret in text else text


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return value
    return None


def _api_error(response: httpx.Response, secret: str | None = None) -> EvoLinkAPIError:
    """One :class:`EvoLinkAPIError` subclass for any non-2xx answer, JSON envelope or not."""
    error_class = api_error_for_status(response.status_code)
    retry_after = _parse_retry_after(response.headers.get("retry-after"))
    request_id = _request_id(response)
    try:
        detail = ApiErrorBody.model_validate_json(response.content).error
    except (pydantic.ValidationError, ValueError):
        content_type = response.headers.get("content-type", "unknown content type").split(";")[0]
        return error_class(
            response.status_code,
            message=(
                f"HTTP {response.status_code} {response.reason_phrase or ''} with a body that is not the "
                f"EvoLink error envelope ({content_type}, {len(response.content)} bytes): perhaps a proxy error"
            ).replace("  ", " "),
            request_id=request_id,
            retry_after=retry_after,
        )

    def clean(value: str | None) -> str | None:
        return None if value is None else _scrub(value, secret)

    return error_class(
        response.status_code,
        code=clean(detail.code),
        message=clean(detail.message),
        type=clean(detail.type),
        param=clean(detail.param),
        request_id=request_id,
        retry_after=retry_after,
    )


def _parse(model: type[_ModelT], response: httpx.Response) -> _ModelT:
    """Validate a 2xx body into ``model`` in one pass; anything else becomes :class:`EvoLinkResponseError`."""
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError as error:
        # Never echo input values: a task detail carries signed result URLs.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        raise EvoLinkResponseError(
            f"unexpected answer to {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}, {len(response.content)} bytes): {problems}",
            request_id=_request_id(response),
        ) from None


def _transport_error(method: str, path: str, error: BaseException, secret: str) -> EvoLinkTransportError:
    detail = _scrub(str(error), secret) or "no detail"
    return EvoLinkTransportError(f"{method} {path}: no answer from EvoLink ({type(error).__name__}: {detail})")


def _unreadable(method: str, path: str, error: BaseException, secret: str) -> EvoLinkResponseError:
    detail = _scrub(str(error), secret) or "no detail"
    return EvoLinkResponseError(f"{method} {path}: unreadable answer ({type(error).__name__}: {detail})")


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, EvoLinkTransportError | EvoLinkResponseError) or (
        isinstance(error, EvoLinkAPIError) and error.retryable
    )


def _backoff(attempt_number: int, error: BaseException | None) -> float:
    """The server's ``Retry-After`` (capped at :data:`MAX_RETRY_WAIT`) when it gave one, else exponential
    backoff with jitter: ``RETRY_INITIAL_WAIT * 2**(n-1)`` plus up to ``RETRY_INITIAL_WAIT``, capped."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(float(retry_after), MAX_RETRY_WAIT)
    backoff = RETRY_INITIAL_WAIT * 2 ** (attempt_number - 1)
    return min(backoff + random.uniform(0, RETRY_INITIAL_WAIT), MAX_RETRY_WAIT)


def _wait(retry_state: RetryCallState) -> float:
    """:func:`_backoff` for tenacity (the sync path)."""
    return _backoff(retry_state.attempt_number, retry_state.outcome.exception() if retry_state.outcome else None)


def _sleep(seconds: float) -> None:
    """The sync retry wait (module-level so tests can record waits instead of sleeping)."""
    time.sleep(seconds)


async def _asleep(seconds: float) -> None:
    """The async retry wait (module-level so tests can record waits instead of sleeping)."""
    await asyncio.sleep(seconds)


def _log_retry(retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    _log_retry_wait(error, retry_state.attempt_number, wait)


def _log_retry_wait(error: BaseException | None, attempt_number: int, wait: float) -> None:
    log.warning("EvoLink request failed (%s); retry %d in %.1f s", error, attempt_number, wait)


@functools.lru_cache(maxsize=4096)
def _api_url(base_url: str, path: str) -> httpx.URL:
    """The absolute URL of an API path, parsed once: a trigger reads the same URL for hours, and httpx's
    pure-Python parsing and merging of a relative URL costs up to a tenth of a poll's CPU."""
    return httpx.URL(base_url + path)


class _NoCookies(httpx.Cookies):
    """A cookie jar that stays empty. The API sets no cookies, and httpx would otherwise wrap every answer in
    ``urllib`` request/response objects to look for some (a tenth of a poll's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


@functools.cache
def _async_client_class() -> type[httpx.AsyncClient]:
    from httpx_aiohttp import HttpxAiohttpClient

    class EvoLinkAsyncClient(HttpxAiohttpClient):
        """httpx's API over aiohttp's transport, without a cookie jar (see :class:`_NoCookies`)."""

        @property  # type: ignore[override]
        def cookies(self) -> httpx.Cookies:
            return _NO_COOKIES

        @cookies.setter
        def cookies(self, cookies: Any) -> None:
            raise TypeError("the EvoLink API client keeps no cookies")

    return EvoLinkAsyncClient


def _new_async_client(settings: _Settings) -> httpx.AsyncClient:
    """The shared async client: httpx's API over aiohttp's transport (``benchmarks/trigger_scale.py``
    measured it against httpx's own). Module-level so tests can swap in a plain ``httpx.AsyncClient``."""
    return _async_client_class()(
        base_url=settings.base_url,
        auth=_BearerAuth(settings.api_key),
        headers={"User-Agent": USER_AGENT},
        timeout=_timeout(settings.timeout),
        limits=httpx.Limits(max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_POOL_SIZE),
    )


@functools.cache
def _async_transport_errors() -> tuple[type[BaseException], ...]:
    # httpx_aiohttp maps most aiohttp errors to httpx ones, but not all (e.g. a malformed HTTP answer):
    # whatever is left is still "no usable answer", never a bare aiohttp traceback.
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - httpx-aiohttp depends on it
        return (httpx.TransportError, asyncio.TimeoutError)
    return (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)


class _SharedAsyncClient:
    """One async client shared by every hook of an event loop with the same base URL and API key.

    Thousands of triggers in one triggerer poll through one bounded connection pool instead of opening a
    client each. ``paused_until`` (event-loop time) makes a 429's ``Retry-After`` slow every sharer.
    """

    def __init__(self, settings: _Settings) -> None:
        self.client: httpx.AsyncClient = _new_async_client(settings)
        self.users = 0
        self.paused_until = 0.0

    def __repr__(self) -> str:
        return f"_SharedAsyncClient(users={self.users})"


#: event loop → {(base_url, api_key): shared client}; a closed, collected loop drops its clients.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _SharedAsyncClient]] = (
    weakref.WeakKeyDictionary()
)
#: Seconds an event loop reuses a connection one of its hooks resolved. Thousands of triggers deferred together
#: would otherwise each look it up (with Airflow's defaults the secrets backends are rebuilt per lookup, and
#: in a triggerer each lookup is a round trip to the API server). A hook keeps what it resolved for its whole
#: life anyway, so this delays a changed key reaching new triggers by at most a minute.
ASYNC_CONNECTION_TTL = 60.0
#: event loop → {conn_id: (loop time it expires, settings)}; a closed, collected loop drops its entries.
_LOOP_SETTINGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[float, _Settings]]] = (
    weakref.WeakKeyDictionary()
)


class EvoLinkHook(BaseHook):
    """
    Talk to the EvoLink API with the API key of an Airflow connection.

    The connection (type ``evolink``): ``password`` = API key (required), ``host`` = base URL (default
    ``https://api.evolink.ai``; ``https://`` is assumed without a scheme), extras ``timeout`` (seconds per
    request, default 30) and ``max_retries`` (retries of retryable failures, default 3). Retryable failures
    (429, 500/502/503/504, connect errors, timeouts, dropped connections, a garbled 2xx body on a read) are
    retried with exponential backoff and jitter, honouring ``Retry-After`` up to 30 s. A create request is
    always sent with an ``Idempotency-Key`` and only ever retried with the same key, so a retry can never pay
    twice where the server honours the key.

    Workers use one sync ``httpx.Client`` per hook (:meth:`get_conn`, closed by :meth:`close`). Triggers use
    :meth:`aget_task`: the connection is read with ``aget_connection``, and every hook of an event loop with
    the same base URL and key shares one async client, released with :meth:`aclose`.

    :param evolink_conn_id: the Airflow connection ID (default ``evolink_default``).
    :raises EvoLinkConfigError: on first use, if the connection has no API key or a bad base URL/extra.
    """

    conn_name_attr = "evolink_conn_id"
    default_conn_name = "evolink_default"
    conn_type = "evolink"
    hook_name = "EvoLink"

    def __init__(self, evolink_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.evolink_conn_id = evolink_conn_id
        self._settings: _Settings | None = None
        self._client: httpx.Client | None = None
        self._shared: _SharedAsyncClient | None = None
        self._shared_key: tuple[asyncio.AbstractEventLoop, tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(evolink_conn_id={self.evolink_conn_id!r})"

    # ------------------------------------------------------------------ connection
    def _settings_from(self, conn: Connection, extra: Mapping[str, Any]) -> _Settings:
        where = f"EvoLink connection {self.evolink_conn_id!r}"
        api_key = (conn.password or "").strip()
        if not api_key:
            raise EvoLinkConfigError(f"{where} has no API key: set its password (API Key) field")
        base_url = _base_url(conn.host, conn.port, where)
        timeout = _number_extra(extra, "timeout", DEFAULT_TIMEOUT, where)
        if not (math.isfinite(timeout) and timeout > 0):
            raise EvoLinkConfigError(f"{where}: extra 'timeout' must be a number of seconds > 0, got {timeout!r}")
        retries = _number_extra(extra, "max_retries", DEFAULT_MAX_RETRIES, where)
        if not (math.isfinite(retries) and retries >= 0 and retries == int(retries)):
            raise EvoLinkConfigError(f"{where}: extra 'max_retries' must be a whole number >= 0, got {retries!r}")
        return _Settings(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=int(retries))

    @property
    def settings(self) -> _Settings:
        """The resolved connection (sync lookup; cached)."""
        if self._settings is None:
            conn = self.get_connection(self.evolink_conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def _asettings(self) -> _Settings:
        """The resolved connection, looked up without sync I/O (triggers); the event loop's hooks share it
        for :data:`ASYNC_CONNECTION_TTL` seconds."""
        if self._settings is None:
            loop = asyncio.get_running_loop()
            resolved = _LOOP_SETTINGS.setdefault(loop, {})
            cached = resolved.get(self.evolink_conn_id)
            if cached is not None and cached[0] > loop.time():
                self._settings = cached[1]
            else:
                conn = await self.aget_connection(self.evolink_conn_id)
                settings = self._settings_from(conn, await conn.aextra_dejson())
                resolved[self.evolink_conn_id] = (loop.time() + ASYNC_CONNECTION_TTL, settings)
                self._settings = self._settings or settings
        return self._settings

    @property
    def base_url(self) -> str:
        """The API base URL of the connection, without a trailing slash."""
        return self.settings.base_url

    # ------------------------------------------------------------------ clients
    def get_conn(self) -> httpx.Client:
        """The sync ``httpx.Client`` (bearer auth, User-Agent, timeouts) used on workers."""
        if self._client is None:
            settings = self.settings
            self._client = httpx.Client(
                base_url=settings.base_url,
                auth=_BearerAuth(settings.api_key),
                headers={"User-Agent": USER_AGENT},
                timeout=_timeout(settings.timeout),
            )
        return self._client

    def result_client(self) -> httpx.Client:
        """A new sync client for result (CDN) URLs: **no** Authorization header, redirects followed.

        The caller closes it. Result links are signed; the API key must never travel to a result host.
        """
        # httpcore reads the socket 64 KiB at a time and runs h11's parser on every read: 16,000 rounds per GiB.
        # Reading 1 MiB at a time cut the CPU of a 1 GiB download from 3.7 s to 2.4 s (benchmarks/download.py;
        # encode/httpcore#135 measured the same trade-off). httpcore has no per-client setting, so this raises
        # the class default: a task runs in its own process, and larger reads change nothing else.
        if httpcore.HTTP11Connection.READ_NUM_BYTES < RESULT_READ_BYTES:
            httpcore.HTTP11Connection.READ_NUM_BYTES = RESULT_READ_BYTES
        settings = self.settings
        return httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=_timeout(settings.timeout), follow_redirects=True
        )

    async def _aclient(self) -> _SharedAsyncClient:
        loop = asyncio.get_running_loop()
        if self._shared is not None and self._shared_key is not None and self._shared_key[0] is not loop:
            # Used from another event loop than before (e.g. two asyncio.run calls): that loop's client
            # cannot be used (or closed) from here; drop this hook's share of it and join this loop's.
            self._release_share()
        if self._shared is None:
            settings = await self._asettings()
            if self._shared is None:  # another coroutine of this hook may have joined while we awaited
                key = (settings.base_url, settings.api_key)
                clients = _SHARED.setdefault(loop, {})
                shared = clients.get(key)
                if shared is None:
                    shared = clients[key] = _SharedAsyncClient(settings)
                shared.users += 1
                self._shared, self._shared_key = shared, (loop, key)
        assert self._shared is not None
        return self._shared

    def _release_share(self) -> _SharedAsyncClient | None:
        """Give up this hook's share; return the shared client if this hook was its last user."""
        shared, self._shared = self._shared, None
        shared_key, self._shared_key = self._shared_key, None
        if shared is None or shared_key is None:
            return None
        shared.users -= 1
        if shared.users > 0:
            return None
        loop, key = shared_key
        clients = _SHARED.get(loop, {})
        if clients.get(key) is shared:
            del clients[key]
        return shared

    def close(self) -> None:
        """Close the sync client (the hook can be used again; a new one is made)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Release this hook's share of the async client; the last user closes it. Safe to call twice."""
        if self._shared_key is not None and self._shared_key[0] is not asyncio.get_running_loop():
            self._release_share()  # another loop's client: forget it, it cannot be awaited from here
            return
        if (last := self._release_share()) is not None:
            await last.client.aclose()

    # ------------------------------------------------------------------ transport
    def _send(
        self,
        method: str,
        path: str,
        *,
        max_retries: int | None = None,
        parse: Callable[[httpx.Response], _ModelT],
        **kwargs: Any,
    ) -> tuple[_ModelT, httpx.Response]:
        """One API call with retries; ``parse`` runs inside the retry so a garbled read is read again."""
        client = self.get_conn()
        settings = self.settings
        retries = settings.max_retries if max_retries is None else max_retries

        def attempt() -> tuple[_ModelT, httpx.Response]:
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                raise _transport_error(method, path, error, settings.api_key) from None
            except httpx.RequestError as error:  # e.g. an undecodable content-encoding
                raise _unreadable(method, path, error, settings.api_key) from None
            if not response.is_success:
                raise _api_error(response, settings.api_key)
            return parse(response), response

        return self._retrying(retries, method)(attempt)

    async def _asend(
        self, method: str, path: str, *, parse: Callable[[httpx.Response], _ModelT], **kwargs: Any
    ) -> tuple[_ModelT, httpx.Response]:
        """Async :meth:`_send` through the shared client; a 429/503 ``Retry-After`` pauses every sharer."""
        shared = await self._aclient()
        settings = await self._asettings()
        loop = asyncio.get_running_loop()
        transport_errors = _async_transport_errors()
        # The shared client may have been made by a hook with another timeout: each request carries its own.
        kwargs.setdefault("timeout", _timeout(settings.timeout))

        url = _api_url(settings.base_url, path)

        async def attempt() -> tuple[_ModelT, httpx.Response]:
            if (delay := shared.paused_until - loop.time()) > 0:
                await asyncio.sleep(delay)
            try:
                response = await shared.client.request(method, url, **kwargs)
            except transport_errors as error:
                raise _transport_error(method, path, error, settings.api_key) from None
            except httpx.RequestError as error:  # e.g. an undecodable content-encoding
                raise _unreadable(method, path, error, settings.api_key) from None
            if not response.is_success:
                api_error = _api_error(response, settings.api_key)
                if api_error.status_code in _PAUSE_STATUSES and api_error.retry_after:
                    # One 429 slows every trigger sharing this client, not only the one that got it.
                    resume_at = loop.time() + min(api_error.retry_after, MAX_RETRY_WAIT)
                    shared.paused_until = max(shared.paused_until, resume_at)
                raise api_error
            return parse(response), response

        # The sync path's retry policy, written out: tenacity's per-call machinery (a retry object per call,
        # coroutine checks per step) cost a quarter of a poll's CPU, and a triggerer makes thousands a minute.
        retryable = self._retry_condition(method)
        attempt_number = 1
        while True:
            try:
                return await attempt()
            except EvoLinkError as error:
                if attempt_number > settings.max_retries or not retryable(error):
                    raise
                wait = _backoff(attempt_number, error)
                _log_retry_wait(error, attempt_number, wait)
                await _asleep(wait)
                attempt_number += 1

    @staticmethod
    def _retry_condition(method: str) -> Callable[[BaseException], bool]:
        # A garbled 2xx answer to a create means the task exists: report it (the caller resubmits with the
        # same Idempotency-Key) rather than re-POST here. Reads are simply read again.
        if method == "GET":
            return _is_retryable
        return lambda error: _is_retryable(error) and not isinstance(error, EvoLinkResponseError)

    @classmethod
    def _retrying(cls, max_retries: int, method: str = "GET") -> Retrying:
        return Retrying(
            retry=retry_if_exception(cls._retry_condition(method)),
            stop=stop_after_attempt(max_retries + 1),
            wait=_wait,
            sleep=lambda seconds: _sleep(seconds),
            before_sleep=_log_retry,
            reraise=True,
        )

    # ------------------------------------------------------------------ API
    def create_video_generation(
        self, request: EvoLinkRequest | Mapping[str, Any], idempotency_key: str | None = None
    ) -> VideoGenerationTask:
        """Submit a generation task: ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``).

        :param request: a request model or a dict (validated into the class its ``model`` selects).
        :param idempotency_key: sent as ``Idempotency-Key``; a fresh UUID if ``None``. Every retry of this
            call reuses it, so the server replays instead of creating (and billing) a second task.
        :return: the created task (``id``, ``status``, ``usage.credits_reserved`` in credits, ...).
        :raises pydantic.ValidationError: the request breaks a documented rule (nothing is sent).
        :raises EvoLinkConfigError: ``idempotency_key`` is not a printable ASCII string (nothing is sent).
        :raises EvoLinkAPIError: a non-2xx answer after retries (400/401/402/403/409/413 are not retried).
        :raises EvoLinkTransportError: no answer after retries: the task may or may not exist; retry
            with the same ``idempotency_key``.
        :raises EvoLinkResponseError: a 2xx answer without a readable task (the task may exist; retry with
            the same ``idempotency_key`` to get it back).
        """
        body = parse_request(request).to_api_json()
        key = idempotency_key or str(uuid.uuid4())
        if not isinstance(key, str) or not key.isascii() or not key.isprintable() or len(key) > 255:
            raise EvoLinkConfigError("idempotency_key must be a printable ASCII string of at most 255 characters")
        task, response = self._send(
            "POST",
            "/v1/videos/generations",
            json=body,
            headers={"Idempotency-Key": key},
            parse=lambda r: _parse(VideoGenerationTask, r),
        )
        if response.headers.get("idempotency-replayed", "").lower() == "true":
            self.log.info("EvoLink replayed task %s for Idempotency-Key %s (not billed again)", task.id, key)
        return task

    def get_task(self, evolink_task_id: str) -> TaskDetail:
        """Read a task: ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``).

        :raises EvoLinkNotFoundError: no such task (404). :raises EvoLinkBadRequestError: malformed ID (400).
        :raises EvoLinkResponseError: the answer is not a valid task detail (e.g. ``completed`` without results).
        """
        detail, _ = self._send("GET", _task_path(evolink_task_id), parse=_task_parser(evolink_task_id))
        return detail

    async def aget_task(self, evolink_task_id: str) -> TaskDetail:
        """Async :meth:`get_task` for triggers: async connection lookup, shared async client, no sync I/O."""
        detail, _ = await self._asend("GET", _task_path(evolink_task_id), parse=_task_parser(evolink_task_id))
        return detail

    def get_credits(self, *, max_retries: int | None = None) -> Credits:
        """Credit balances: ``GET /v1/credits`` (FACTS.md).

        :param max_retries: override the connection's ``max_retries`` for this call.
        :raises EvoLinkResponseError: the answer is HTTP 200 with ``success: false`` (or unreadable).
        """
        credits, _ = self._send("GET", "/v1/credits", max_retries=max_retries, parse=_parse_credits)
        return credits

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test (the Test button, the REST test endpoint, ``airflow connections test``): one
        ``GET /v1/credits`` without retries. Never raises: ``(True, "Connected to EvoLink at <url>: <n> credits
        remaining")`` or ``(False, <reason>)``, the reason naming the host for a network failure and the field and
        rule for a refused connection setting."""
        try:
            credits = self.get_credits(max_retries=0)
            remaining = credits.remaining
            balance = "an unknown number of" if remaining is None else f"{remaining:,.15g}"
            return True, f"Connected to EvoLink at {self.base_url}: {balance} credits remaining"
        except EvoLinkTransportError as error:  # say which host could not be reached: it is the usual typo
            return False, f"Could not reach EvoLink at {self.base_url}: {error}"
        except EvoLinkError as error:
            return False, str(error)
        except Exception as error:  # e.g. the connection does not exist: the UI wants a reason, not a crash
            secret = self._settings.api_key if self._settings else None
            return False, _scrub(f"{type(error).__name__}: {error}", secret)
        finally:
            self.close()


def _task_parser(evolink_task_id: str) -> Callable[[httpx.Response], TaskDetail]:
    """Parse a task detail and check it describes the task asked for: a proxy or cache mixing up answers must
    not end a wait, or start a download, with another task's detail."""
    expected = evolink_task_id.strip()

    def parse(response: httpx.Response) -> TaskDetail:
        detail = _parse(TaskDetail, response)
        if detail.id != expected:
            raise EvoLinkResponseError(
                f"asked EvoLink for task {expected} but got task {detail.id[:80]!r}",
                request_id=_request_id(response),
            )
        return detail

    return parse


def _parse_credits(response: httpx.Response) -> Credits:
    envelope = _parse(CreditsResponse, response)
    if not envelope.success or envelope.data is None:
        reason = envelope.failure_reason
        raise EvoLinkResponseError(
            "GET /v1/credits answered success: false" + (f": {reason}" if reason else ""),
            request_id=_request_id(response),
        )
    return envelope.data


def _base_url(host: str | None, port: int | None, where: str) -> str:
    """The API base URL from the connection's host (and port, from a URI-form connection)."""
    base_url = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in base_url:
        base_url = f"https://{base_url}"
    try:
        parts = urlsplit(base_url)
        has_port = parts.port is not None
    except ValueError:
        raise EvoLinkConfigError(f"{where}: host {host!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EvoLinkConfigError(f"{where}: host must be an http(s) URL such as {DEFAULT_BASE_URL}, got {host!r}")
    if port and not has_port:
        base_url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    # Users paste the versioned API root; every path here already starts with /v1.
    return base_url.rstrip("/").removesuffix("/v1")


def _number_extra(extra: Mapping[str, Any], name: str, default: float, where: str) -> float:
    # The UI stores an emptied field as "" or None: both mean "use the default". Strings come from URI-form
    # connections and environment variables.
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return float(default)
    if isinstance(value, bool):
        raise EvoLinkConfigError(f"{where}: extra {name!r} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EvoLinkConfigError(f"{where}: extra {name!r} must be a number, got {value!r}") from None


def _task_path(evolink_task_id: str) -> str:
    if not isinstance(evolink_task_id, str) or not evolink_task_id.strip():
        raise EvoLinkConfigError(f"evolink_task_id must be a non-empty string, got {evolink_task_id!r}")
    return f"/v1/tasks/{quote(evolink_task_id.strip(), safe='')}"
