"""
EvoLinkHook: authentication and every HTTP call to the EvoLink API, sync (workers) and async (triggers).

API source: ``../shared/evolink-api/`` — ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``),
``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``), ``GET /v1/credits`` and the retry and
idempotency rules (``FACTS.md``).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import uuid
import weakref
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pydantic
from airflow.sdk import BaseHook
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

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
#: Connections one shared async client may open (all triggers of a triggerer share them).
ASYNC_POOL_SIZE = 64
USER_AGENT = f"airflow-provider-evolink/{__version__}"
_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")

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


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return value
    return None


def _api_error(response: httpx.Response) -> EvoLinkAPIError:
    """One :class:`EvoLinkAPIError` subclass for any non-2xx answer, JSON envelope or not."""
    retry_after = _parse_retry_after(response.headers.get("retry-after"))
    try:
        detail = ApiErrorBody.model_validate_json(response.content).error
    except (pydantic.ValidationError, ValueError):
        content_type = response.headers.get("content-type", "unknown content type").split(";")[0]
        return api_error_for_status(response.status_code)(
            response.status_code,
            message=(
                f"HTTP {response.status_code} {response.reason_phrase or ''} with a body that is not the "
                f"EvoLink error envelope ({content_type}, {len(response.content)} bytes): perhaps a proxy error"
            ),
            request_id=_request_id(response),
            retry_after=retry_after,
        )
    return api_error_for_status(response.status_code)(
        response.status_code,
        code=detail.code,
        message=detail.message,
        type=detail.type,
        param=detail.param,
        request_id=_request_id(response),
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


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, EvoLinkTransportError) or (isinstance(error, EvoLinkAPIError) and error.retryable)


def _wait(retry_state: RetryCallState) -> float:
    """Exponential backoff with jitter, or the server's ``Retry-After`` (capped) when it gave one."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(float(retry_after), MAX_RETRY_WAIT)
    return wait_exponential_jitter(initial=0.5, max=MAX_RETRY_WAIT, jitter=0.5)(retry_state)


def _log_retry(retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    log.warning("EvoLink request failed (%s); retry %d in %.1f s", error, retry_state.attempt_number, wait)


class _SharedAsyncClient:
    """One async client shared by every hook of an event loop with the same base URL and API key.

    Thousands of triggers in one triggerer poll through one bounded connection pool instead of opening a
    client each. ``paused_until`` (event-loop time) makes a 429's ``Retry-After`` slow every sharer.
    """

    def __init__(self, settings: _Settings) -> None:
        # httpx's API over aiohttp's transport: benchmarks/trigger_scale.py measured it against httpx's own.
        from httpx_aiohttp import HttpxAiohttpClient

        self.client: httpx.AsyncClient = HttpxAiohttpClient(
            base_url=settings.base_url,
            auth=_BearerAuth(settings.api_key),
            headers={"User-Agent": USER_AGENT},
            timeout=_timeout(settings.timeout),
            limits=httpx.Limits(max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_POOL_SIZE),
        )
        self.users = 0
        self.paused_until = 0.0


#: event loop → {(base_url, api_key): shared client}; a closed, collected loop drops its clients.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _SharedAsyncClient]] = (
    weakref.WeakKeyDictionary()
)


class EvoLinkHook(BaseHook):
    """
    Talk to the EvoLink API with the API key of an Airflow connection.

    The connection (type ``evolink``): ``password`` = API key (required), ``host`` = base URL (default
    ``https://api.evolink.ai``), extras ``timeout`` (seconds per request, default 30) and ``max_retries``
    (retries of retryable failures, default 3). Retryable failures (429, 500/502/503/504, connect errors,
    timeouts, dropped connections) are retried with exponential backoff and jitter, honouring ``Retry-After``
    up to 30 s. A create request is always sent with an ``Idempotency-Key`` and only ever retried with the
    same key, so a retry can never pay twice where the server honours the key.

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
    def _settings_from(self, conn: Connection, extra: dict[str, Any]) -> _Settings:
        if not conn.password:
            raise EvoLinkConfigError(
                f"EvoLink connection {self.evolink_conn_id!r} has no API key: set its password (API Key) field"
            )
        base_url = (conn.host or DEFAULT_BASE_URL).strip().rstrip("/")
        if "://" not in base_url:
            base_url = f"https://{base_url}"
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise EvoLinkConfigError(f"EvoLink connection {self.evolink_conn_id!r}: host must be an http(s) URL")
        try:
            timeout = float(_extra(extra, "timeout", DEFAULT_TIMEOUT))
            max_retries = int(_extra(extra, "max_retries", DEFAULT_MAX_RETRIES))
        except (TypeError, ValueError):
            raise EvoLinkConfigError(
                f"EvoLink connection {self.evolink_conn_id!r}: extra 'timeout' must be a number of seconds "
                "and 'max_retries' a whole number"
            ) from None
        if timeout <= 0 or max_retries < 0:
            raise EvoLinkConfigError(
                f"EvoLink connection {self.evolink_conn_id!r}: 'timeout' must be > 0 and 'max_retries' >= 0"
            )
        return _Settings(base_url=base_url, api_key=conn.password, timeout=timeout, max_retries=max_retries)

    @property
    def settings(self) -> _Settings:
        """The resolved connection (sync lookup; cached)."""
        if self._settings is None:
            conn = self.get_connection(self.evolink_conn_id)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def _asettings(self) -> _Settings:
        if self._settings is None:
            conn = await self.aget_connection(self.evolink_conn_id)
            self._settings = self._settings_from(conn, await conn.aextra_dejson())
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
        settings = self.settings
        return httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=_timeout(settings.timeout), follow_redirects=True
        )

    async def _aclient(self) -> _SharedAsyncClient:
        if self._shared is None:
            settings = await self._asettings()
            loop = asyncio.get_running_loop()
            key = (settings.base_url, settings.api_key)
            clients = _SHARED.setdefault(loop, {})
            shared = clients.get(key)
            if shared is None:
                shared = clients[key] = _SharedAsyncClient(settings)
            shared.users += 1
            self._shared, self._shared_key = shared, (loop, key)
        return self._shared

    def close(self) -> None:
        """Close the sync client (the hook can be used again; a new one is made)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Release this hook's share of the async client; the last user closes it."""
        shared, self._shared = self._shared, None
        if shared is None or self._shared_key is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            loop, key = self._shared_key
            clients = _SHARED.get(loop, {})
            if clients.get(key) is shared:
                del clients[key]
            await shared.client.aclose()

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, *, max_retries: int | None = None, **kwargs: Any) -> httpx.Response:
        client = self.get_conn()
        retries = self.settings.max_retries if max_retries is None else max_retries

        def attempt() -> httpx.Response:
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                raise EvoLinkTransportError(f"{method} {path}: {type(error).__name__}: {error}") from None
            if not response.is_success:
                raise _api_error(response)
            return response

        return self._retrying(retries)(attempt)

    async def _asend(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        shared = await self._aclient()
        loop = asyncio.get_running_loop()

        async def attempt() -> httpx.Response:
            if (delay := shared.paused_until - loop.time()) > 0:
                await asyncio.sleep(delay)
            try:
                response = await shared.client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                raise EvoLinkTransportError(f"{method} {path}: {type(error).__name__}: {error}") from None
            if not response.is_success:
                api_error = _api_error(response)
                if api_error.status_code == 429 and api_error.retry_after:
                    # One 429 slows every trigger sharing this client, not only the one that got it.
                    resume_at = loop.time() + min(api_error.retry_after, MAX_RETRY_WAIT)
                    shared.paused_until = max(shared.paused_until, resume_at)
                raise api_error
            return response

        settings = await self._asettings()
        return await self._aretrying(settings.max_retries)(attempt)

    @staticmethod
    def _retrying(max_retries: int) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(max_retries + 1),
            wait=_wait,
            before_sleep=_log_retry,
            reraise=True,
        )

    @staticmethod
    def _aretrying(max_retries: int) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(max_retries + 1),
            wait=_wait,
            before_sleep=_log_retry,
            reraise=True,
        )

    # ------------------------------------------------------------------ API
    def create_video_generation(
        self, request: EvoLinkRequest | dict[str, Any], idempotency_key: str | None = None
    ) -> VideoGenerationTask:
        """Submit a generation task: ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``).

        :param request: a request model or a dict (validated into the class its ``model`` selects).
        :param idempotency_key: sent as ``Idempotency-Key``; a fresh UUID if ``None``. Every retry of this
            call reuses it, so the server replays instead of creating (and billing) a second task.
        :return: the created task (``id``, ``status``, ``usage.credits_reserved`` in credits, ...).
        :raises pydantic.ValidationError: the request breaks a documented rule (nothing is sent).
        :raises EvoLinkAPIError: a non-2xx answer after retries (400/401/402/403/409/413 are not retried).
        :raises EvoLinkTransportError: no answer after retries: the task may or may not exist; retry
            with the same ``idempotency_key``.
        :raises EvoLinkResponseError: a 2xx answer without a task ``id``.
        """
        body = parse_request(request).to_api_json()
        key = idempotency_key or str(uuid.uuid4())
        response = self._send("POST", "/v1/videos/generations", json=body, headers={"Idempotency-Key": key})
        task = _parse(VideoGenerationTask, response)
        if response.headers.get("idempotency-replayed", "").lower() == "true":
            self.log.info("EvoLink replayed task %s for Idempotency-Key %s (not billed again)", task.id, key)
        return task

    def get_task(self, evolink_task_id: str) -> TaskDetail:
        """Read a task: ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``).

        :raises EvoLinkNotFoundError: no such task (404). :raises EvoLinkBadRequestError: malformed ID (400).
        :raises EvoLinkResponseError: the answer is not a valid task detail (e.g. ``completed`` without results).
        """
        return _parse(TaskDetail, self._send("GET", _task_path(evolink_task_id)))

    async def aget_task(self, evolink_task_id: str) -> TaskDetail:
        """Async :meth:`get_task` for triggers: async connection lookup, shared async client, no sync I/O."""
        return _parse(TaskDetail, await self._asend("GET", _task_path(evolink_task_id)))

    def get_credits(self) -> Credits:
        """Credit balances: ``GET /v1/credits`` (FACTS.md). ``success: false`` raises :class:`EvoLinkResponseError`."""
        response = self._send("GET", "/v1/credits")
        envelope = _parse(CreditsResponse, response)
        if not envelope.success or envelope.data is None:
            raise EvoLinkResponseError("GET /v1/credits answered success: false", request_id=_request_id(response))
        return envelope.data

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: one ``GET /v1/credits`` without retries; never raises."""
        try:
            credits = _parse(CreditsResponse, self._send("GET", "/v1/credits", max_retries=0))
            if not credits.success or credits.data is None:
                return False, "EvoLink answered success: false to GET /v1/credits"
            remaining = credits.data.remaining
            balance = "unknown" if remaining is None else f"{remaining:g}"
            return True, f"Connected to EvoLink at {self.base_url}: {balance} credits remaining"
        except EvoLinkError as error:
            return False, str(error)
        finally:
            self.close()


def _extra(extra: dict[str, Any], name: str, default: float) -> Any:
    # The UI stores an emptied field as "" or None: both mean "use the default".
    value = extra.get(name)
    return default if value in (None, "") else value


def _task_path(evolink_task_id: str) -> str:
    if not isinstance(evolink_task_id, str) or not evolink_task_id.strip():
        raise EvoLinkConfigError(f"evolink_task_id must be a non-empty string, got {evolink_task_id!r}")
    return f"/v1/tasks/{quote(evolink_task_id.strip(), safe='')}"
