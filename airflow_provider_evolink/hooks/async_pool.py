"""
The async HTTP clients that triggers share: one per event loop, base URL and API key.

Thousands of triggers in one triggerer poll through one bounded connection pool instead of opening a client each,
and a 429's ``Retry-After`` slows every trigger sharing it. Everything here is a per-process optimisation: no
state that matters lives in it (a trigger may be re-created in another triggerer at any time).
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from airflow_provider_evolink import retry
from airflow_provider_evolink.hooks.settings import USER_AGENT, BearerAuth, ConnectionSettings, http_timeout

__all__ = [
    "ASYNC_CONNECTION_TTL",
    "ASYNC_POOL_SIZE",
    "PoolKey",
    "SharedAsyncClient",
    "api_url",
    "async_transport_errors",
    "cached_settings",
    "join",
    "leave",
]

#: Connections one shared async client may open (all triggers of a triggerer share them).
ASYNC_POOL_SIZE = 64
#: Seconds an event loop reuses a connection one of its hooks resolved. Thousands of triggers deferred together
#: would otherwise each look it up (with Airflow's defaults the secrets backends are rebuilt per lookup, and in a
#: triggerer each lookup is a round trip to the API server). A hook keeps what it resolved for its whole life
#: anyway, so this delays a changed key reaching new triggers by at most a minute.
ASYNC_CONNECTION_TTL = 60.0

#: (event loop, (base URL, API key)): which shared client a hook joined.
PoolKey = tuple[asyncio.AbstractEventLoop, tuple[str, str]]


class SharedAsyncClient:
    """One async client and the hooks using it; ``paused_until`` (event-loop time) holds every sharer back."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.client: httpx.AsyncClient = _new_async_client(settings)
        self.users = 0
        self.paused_until = 0.0  # retry.monotonic() time

    def __repr__(self) -> str:
        return f"SharedAsyncClient(users={self.users})"

    async def wait_if_paused(self) -> None:
        """Sleep until a pause another sharer's 429/503 started is over."""
        if (delay := self.paused_until - retry.monotonic()) > 0:
            await retry.asleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every sharer back for ``seconds`` (a server's ``Retry-After``, already capped)."""
        self.paused_until = max(self.paused_until, retry.monotonic() + seconds)


#: event loop → {(base_url, api_key): shared client}; a closed, collected loop drops its clients.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], SharedAsyncClient]] = (
    weakref.WeakKeyDictionary()
)
#: event loop → {conn_id: (loop time it expires, settings)}; a closed, collected loop drops its entries.
_LOOP_SETTINGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[float, ConnectionSettings]]] = (
    weakref.WeakKeyDictionary()
)
#: event loop → {conn_id: lock}: one lookup at a time per connection, the others wait for its answer.
_LOOP_LOOKUPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def join(settings: ConnectionSettings) -> tuple[SharedAsyncClient, PoolKey]:
    """Join (or start) the running loop's shared client for ``settings``; :func:`leave` gives the share back."""
    loop = asyncio.get_running_loop()
    key = (settings.base_url, settings.api_key)
    clients = _SHARED.setdefault(loop, {})
    shared = clients.get(key)
    if shared is None:
        shared = clients[key] = SharedAsyncClient(settings)
    shared.users += 1
    return shared, (loop, key)


def leave(shared: SharedAsyncClient, pool_key: PoolKey) -> SharedAsyncClient | None:
    """Give up one share; return the client when that was its last user (the caller closes it)."""
    shared.users -= 1
    if shared.users > 0:
        return None
    loop, key = pool_key
    clients = _SHARED.get(loop, {})
    if clients.get(key) is shared:
        del clients[key]
    return shared


async def cached_settings(conn_id: str, resolve: Callable[[], Awaitable[ConnectionSettings]]) -> ConnectionSettings:
    """The running loop's settings of ``conn_id``, resolved with ``resolve`` at most every
    :data:`ASYNC_CONNECTION_TTL` seconds, and by one caller at a time: triggers started together wait for the
    first one's lookup instead of each making its own."""
    loop = asyncio.get_running_loop()
    resolved = _LOOP_SETTINGS.setdefault(loop, {})
    if (cached := resolved.get(conn_id)) is not None and cached[0] > loop.time():
        return cached[1]
    async with _LOOP_LOOKUPS.setdefault(loop, {}).setdefault(conn_id, asyncio.Lock()):
        if (cached := resolved.get(conn_id)) is not None and cached[0] > loop.time():
            return cached[1]  # resolved by the caller this one waited for
        settings = await resolve()
        resolved[conn_id] = (loop.time() + ASYNC_CONNECTION_TTL, settings)
        return settings


@functools.lru_cache(maxsize=4096)
def api_url(base_url: str, path: str) -> httpx.URL:
    """The absolute URL of an API path, parsed once: a trigger reads the same URL for hours, and httpx's
    pure-Python parsing and merging of a relative URL costs up to a tenth of a poll's CPU."""
    return httpx.URL(base_url + path)


@functools.cache
def async_transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "no usable answer" on the async path."""
    # httpx_aiohttp maps most aiohttp errors to httpx ones, but not all (e.g. a malformed HTTP answer):
    # whatever is left is still "no usable answer", never a bare aiohttp traceback.
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - httpx-aiohttp depends on it
        return (httpx.TransportError, asyncio.TimeoutError)
    return (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)


class _NoCookies(httpx.Cookies):
    """A cookie jar that stays empty. The API sets no cookies, and httpx would otherwise wrap every answer in
    ``urllib`` request/response objects to look for some (a tenth of a poll's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


@functools.cache
def _async_client_class() -> type[httpx.AsyncClient]:
    from httpx_aiohttp import HttpxAiohttpClient
    from httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport, map_aiohttp_exceptions

    class WholeBodyTransport(AiohttpTransport):
        """httpx-aiohttp's transport, reading each answer whole before handing it to httpx. API answers are
        small JSON documents, and reading them through httpx's streaming layers (four async generators and a
        close per answer) cost more CPU than aiohttp's read itself."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            assert isinstance(response.stream, AiohttpResponseStream)  # what the parent class always returns
            answer = response.stream._aiohttp_response
            try:
                with map_aiohttp_exceptions():
                    body = await answer.read()  # releases the connection to the pool
            except BaseException:
                answer.close()  # a half-read answer leaves the connection unusable
                raise
            response.stream = httpx.ByteStream(body)
            response.read()  # decodes a Content-Encoding as httpx would; the client's own read has nothing left to do
            return response

    class EvoLinkAsyncClient(HttpxAiohttpClient):
        """httpx's API over aiohttp's transport (answers read whole, see ``WholeBodyTransport``), without a cookie
        jar (see :class:`_NoCookies`)."""

        def _init_transport(  # type: ignore[override]  # httpx passes every argument by name
            self, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any
        ) -> httpx.AsyncBaseTransport:
            return transport or WholeBodyTransport(**kwargs)

        def _init_proxy_transport(  # type: ignore[override]  # httpx passes every argument by name
            self, proxy: httpx.Proxy, **kwargs: Any
        ) -> httpx.AsyncBaseTransport:
            return WholeBodyTransport(proxy=proxy, **kwargs)

        @property  # type: ignore[override]
        def cookies(self) -> httpx.Cookies:
            return _NO_COOKIES

        @cookies.setter
        def cookies(self, cookies: Any) -> None:
            raise TypeError("the EvoLink API client keeps no cookies")

    return EvoLinkAsyncClient


def _new_async_client(settings: ConnectionSettings) -> httpx.AsyncClient:
    """The shared async client: httpx's API over aiohttp's transport (``benchmarks/trigger_scale.py`` measured
    it against httpx's own). Module-level so tests can swap in a plain ``httpx.AsyncClient``."""
    return _async_client_class()(
        base_url=settings.base_url,
        auth=BearerAuth(settings.api_key),
        headers={"User-Agent": USER_AGENT},
        timeout=http_timeout(settings.timeout),
        limits=httpx.Limits(max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_POOL_SIZE),
    )
