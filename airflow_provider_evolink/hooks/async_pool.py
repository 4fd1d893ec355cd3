"""
The async HTTP clients that triggers share: one per event loop, base URL and API key.

Thousands of triggers in one triggerer poll through one bounded connection pool instead of opening a client each,
and a 429's ``Retry-After`` slows every trigger sharing it. Everything here is a per-process optimisation: no
state that matters lives in it (a trigger may be re-created in another triggerer at any time).

The pool is an ``aiohttp.ClientSession`` (the library of the dbt Cloud and HTTP providers' async hooks), read
without httpx's client layers, which cost more CPU per read (figures: ``benchmarks/README.md``). Answers still come back
as ``httpx.Response``, so the workers' sync path (httpx) and the triggers' share one reading of answers and errors
(:mod:`.responses`).
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from airflow_provider_evolink import retry
from airflow_provider_evolink.hooks.settings import USER_AGENT, ConnectionSettings, http_timeout, tls_context

if TYPE_CHECKING:  # aiohttp is imported when a trigger first reads: DAG files do not pay for it
    import aiohttp
    import yarl

__all__ = [
    "ASYNC_CONNECTION_TTL",
    "ASYNC_POOL_SIZE",
    "JSON_HEADERS",
    "KEEPALIVE_SECONDS",
    "PoolKey",
    "SharedAsyncClient",
    "async_transport_errors",
    "cached_settings",
    "join",
    "leave",
    "request_timeout",
]

#: Connections one shared async client may open (all triggers of a triggerer share them).
ASYNC_POOL_SIZE = 64
#: Seconds an idle pooled connection stays open (httpx's default, which the pool had before it was aiohttp's own).
KEEPALIVE_SECONDS = 5.0
#: Seconds an event loop reuses a connection one of its hooks resolved. Thousands of triggers deferred together
#: would otherwise each look it up (with Airflow's defaults the secrets backends are rebuilt per lookup, and in a
#: triggerer each lookup is a round trip to the API server). A hook keeps what it resolved for its whole life
#: anyway, so this delays a changed key reaching new triggers by at most a minute.
ASYNC_CONNECTION_TTL = 60.0

#: The header of a request with a JSON body (the triggers' batch reads; the workers' sync client sends the same).
JSON_HEADERS = {"Content-Type": "application/json"}
#: (event loop, (base URL, API key)): which shared client a hook joined.
PoolKey = tuple[asyncio.AbstractEventLoop, tuple[str, str]]


class SharedAsyncClient:
    """One aiohttp session (the connection pool) and the hooks using it; ``paused_until`` (event-loop time) holds
    every sharer back.

    Reads go to aiohttp directly (:meth:`get`) and come back as a finished ``httpx.Response``, so answers and errors
    are read by the same code as the workers' (``hooks/responses.py``). httpx's client layers (send, auth flow,
    redirects, an adapter converting headers and timeouts) ran at every read of every trigger: 14 % of the trigger's
    CPU in the profile (``benchmarks/README.md``).
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.session = _new_session(settings)
        self.users = 0
        self.paused_until = 0.0  # retry.monotonic() time
        # Proxy variables read once: aiohttp's trust_env would look them up in a thread at every request.
        self._proxy, self._proxy_auth = _env_proxy(settings.base_url)

    def __repr__(self) -> str:
        return f"SharedAsyncClient(users={self.users})"

    async def get(self, url: yarl.URL, request: httpx.Request, timeouts: aiohttp.ClientTimeout) -> httpx.Response:
        """``GET url``, read whole: the answer as an ``httpx.Response`` of ``request`` (the same URL), its body
        decoded as httpx would (``Content-Encoding``).

        :raises aiohttp.ClientError | asyncio.TimeoutError: no answer, or a connection dropped mid-answer.
        :raises httpx.DecodingError: a body its ``Content-Encoding`` cannot decode.
        """
        return await self.send(url, request, timeouts)

    async def send(
        self, url: yarl.URL, request: httpx.Request, timeouts: aiohttp.ClientTimeout, body: bytes | None = None
    ) -> httpx.Response:
        """:meth:`get`, or with ``body`` a ``POST`` of that JSON (``request.method`` says which), read whole.

        :raises aiohttp.ClientError | asyncio.TimeoutError: no answer, or a connection dropped mid-answer.
        :raises httpx.DecodingError: a body its ``Content-Encoding`` cannot decode.
        """
        async with self.session.request(
            request.method,
            url,
            data=body,
            headers=JSON_HEADERS if body is not None else None,
            allow_redirects=False,
            auto_decompress=False,  # httpx decodes below, as on the workers' path
            timeout=timeouts,
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
        ) as answer:
            try:
                body = await answer.read()  # releases the connection to the pool
            except BaseException:
                answer.close()  # a half-read answer leaves the connection unusable
                raise
        extensions = {"reason_phrase": answer.reason.encode()} if answer.reason else {}
        return httpx.Response(
            answer.status, headers=answer.raw_headers, content=body, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        """Close the pool's connections."""
        await self.session.close()

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


@functools.cache
def async_transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of :meth:`SharedAsyncClient.get` that mean "no usable answer"."""
    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError)


@functools.lru_cache(maxsize=64)
def request_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """:func:`~.settings.http_timeout` in aiohttp's terms: ``connect`` covers the wait for a pooled connection."""
    import aiohttp

    timeout = http_timeout(seconds)
    return aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool)


def _env_proxy(base_url: str) -> tuple[yarl.URL | None, aiohttp.BasicAuth | None]:
    """The proxy ``HTTP(S)_PROXY``/``NO_PROXY`` name for ``base_url`` (as httpx's ``trust_env`` found it), or none."""
    import yarl
    from aiohttp.helpers import get_env_proxy_for_url

    try:
        return get_env_proxy_for_url(yarl.URL(base_url))
    except LookupError:
        return None, None


def _new_session(settings: ConnectionSettings) -> aiohttp.ClientSession:
    """The pool of a shared client: at most :data:`ASYNC_POOL_SIZE` connections, idle ones closed after
    :data:`KEEPALIVE_SECONDS`, the provider's TLS context, bearer auth and User-Agent on every request, no cookies
    (the API sets none). Module-level so tests can wrap it."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=ASYNC_POOL_SIZE, keepalive_timeout=KEEPALIVE_SECONDS, ssl=tls_context()),
        headers={"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
    )
