"""
EvoLinkHook: the public client of the EvoLink API, sync (workers) and async (triggers).

API reference: ``airflow_provider_evolink/api_reference/evolink-api.md``; schemas:
``airflow_provider_evolink/api_reference/openapi/`` — ``POST /v1/videos/generations`` (``kling-*.openapi.yaml``), ``GET
/v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``), ``GET /v1/credits``; ``POST /v1/tasks/batch`` and ``GET
/v1/tasks`` ("Reading many tasks", checked and read in :mod:`.batch`).

Where the rest lives: connection settings in :mod:`.settings`, the triggers' shared async clients in
:mod:`.async_pool`, reading answers and errors in :mod:`.responses`, the retry policy in
:mod:`airflow_provider_evolink.retry`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic
from airflow.sdk import BaseHook

from airflow_provider_evolink.compat import aconnection_extra
from airflow_provider_evolink.exceptions import (
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks import async_pool
from airflow_provider_evolink.hooks.async_pool import ASYNC_POOL_SIZE, PoolKey, SharedAsyncClient
from airflow_provider_evolink.hooks.batch import BATCH_PATH, LIST_PATH, batch_body, list_query, parse_batch, tasks_by_id
from airflow_provider_evolink.hooks.responses import (
    api_error,
    parse_credits,
    parse_model,
    scrub,
    task_parser,
    transport_error,
    unreadable,
)
from airflow_provider_evolink.hooks.settings import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    ConnectionSettings,
    host_client,
    http_timeout,
    settings_from_connection,
    tls_context,
)
from airflow_provider_evolink.http_statuses import PAUSE_STATUSES
from airflow_provider_evolink.models.media import has_unresolved_inputs
from airflow_provider_evolink.models.requests import EvoLinkRequest, parse_request

if TYPE_CHECKING:
    import aiohttp
    import yarl
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.hooks.price_list import PriceListRead
    from airflow_provider_evolink.models.responses import Credits, TaskDetail, UploadedFile, VideoGenerationTask
    from airflow_provider_evolink.models.task_list import TaskList

__all__ = ["ASYNC_POOL_SIZE", "DEFAULT_BASE_URL", "USER_AGENT", "EvoLinkHook"]

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


class EvoLinkHook(BaseHook):
    """
    Talk to the EvoLink API with the API key of an Airflow connection.

    The connection (type ``evolink``): ``password`` = API key (required), ``host`` = base URL (``https://`` is
    assumed without a scheme), extras ``timeout`` (seconds per request), ``max_retries`` (retries of retryable
    failures) and ``outage_tolerance`` (seconds the provider's waits and saves outlast failures in a row; see
    :attr:`settings`), and ``files_base_url`` (the files API host :meth:`upload_file` sends to); every default is
    in :mod:`airflow_provider_evolink.defaults`. Retryable failures (``http_statuses.RETRYABLE_API_STATUSES``,
    connect errors, timeouts, dropped connections, a garbled 2xx body on a read) are retried under the provider's
    one retry policy (``airflow_provider_evolink/retry.py``): exponential backoff with jitter, honouring
    ``Retry-After`` up to ``defaults.MAX_RETRY_WAIT``. A create request is
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
        self._settings: ConnectionSettings | None = None
        self._client: httpx.Client | None = None
        self._files_client: httpx.Client | None = None
        self._shared: SharedAsyncClient | None = None
        self._shared_key: PoolKey | None = None
        #: path → (its URL for aiohttp, the httpx request answers are read against, the timeouts): a trigger reads one
        #: URL for hours.
        self._atargets: dict[str, tuple[yarl.URL, httpx.Request, aiohttp.ClientTimeout]] = {}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's hidden and relabelled fields, for Airflow 3.1 (3.2+ reads provider info)."""
        from airflow_provider_evolink.hooks.connection_form import ui_field_behaviour

        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's extra fields, for Airflow 3.1 (3.2+ reads provider info's ``conn-fields``)."""
        from airflow_provider_evolink.hooks.connection_form import connection_form_widgets

        return connection_form_widgets()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(evolink_conn_id={self.evolink_conn_id!r})"

    # ------------------------------------------------------------------ connection
    @property
    def settings(self) -> ConnectionSettings:
        """The resolved connection (sync lookup; cached).

        :raises EvoLinkConfigError: the connection is unusable (see :func:`.settings.settings_from_connection`).
        """
        if self._settings is None:
            conn = self.get_connection(self.evolink_conn_id)
            self._settings = settings_from_connection(conn, conn.extra_dejson, self.evolink_conn_id)
        return self._settings

    async def asettings(self) -> ConnectionSettings:
        """The resolved connection, looked up without sync I/O (triggers); shared by the event loop's hooks.

        :raises EvoLinkConfigError: the connection is unusable.
        """
        if self._settings is None:
            settings = await async_pool.cached_settings(self.evolink_conn_id, self._aresolve)
            self._settings = self._settings or settings
        return self._settings

    async def _aresolve(self) -> ConnectionSettings:
        conn = await self.aget_connection(self.evolink_conn_id)
        return settings_from_connection(conn, await aconnection_extra(conn), self.evolink_conn_id)

    @property
    def base_url(self) -> str:
        """The API base URL of the connection, without a trailing slash."""
        return self.settings.base_url

    # ------------------------------------------------------------------ clients
    def get_conn(self) -> httpx.Client:
        """The sync ``httpx.Client`` (bearer auth, User-Agent, timeouts) used on workers."""
        if self._client is None:
            self._client = host_client(self.settings, self.settings.base_url)
        return self._client

    def result_client(self) -> httpx.Client:
        """A new sync client for result (CDN) URLs: **no** Authorization header, redirects followed.

        The caller closes it. Result links are signed; the API key must never travel to a result host.
        """
        return httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=http_timeout(self.settings.timeout),
            follow_redirects=True,
            verify=tls_context(),
        )

    async def _aclient(self) -> SharedAsyncClient:
        loop = asyncio.get_running_loop()
        if self._shared is not None and self._shared_key is not None and self._shared_key[0] is not loop:
            # Another event loop (e.g. a second asyncio.run): the old loop's client is unusable from here.
            self._release_share()
        if self._shared is None:
            settings = await self.asettings()
            if self._shared is None:  # another coroutine of this hook may have joined while we awaited
                self._shared, self._shared_key = async_pool.join(settings)
        return self._shared

    def _release_share(self) -> SharedAsyncClient | None:
        """Give up this hook's share; return the shared client if this hook was its last user."""
        shared, self._shared = self._shared, None
        shared_key, self._shared_key = self._shared_key, None
        self._atargets.clear()
        if shared is None or shared_key is None:
            return None
        return async_pool.leave(shared, shared_key)

    def files_client(self) -> httpx.Client:
        """The sync ``httpx.Client`` of the files host (connection extra ``files_base_url``): bearer auth,
        User-Agent, timeouts. Closed by :meth:`close`."""
        if self._files_client is None:
            self._files_client = host_client(self.settings, self.settings.files_base_url)
        return self._files_client

    def close(self) -> None:
        """Close the sync clients (the hook can be used again; new ones are made)."""
        for client in (self._client, self._files_client):
            if client is not None:
                client.close()
        self._client = self._files_client = None

    async def aclose(self) -> None:
        """Release this hook's share of the async client; the last user closes it. Safe to call twice."""
        if self._shared_key is not None and self._shared_key[0] is not asyncio.get_running_loop():
            self._release_share()  # another loop's client: forget it, it cannot be awaited from here
            return
        if (last := self._release_share()) is not None:
            await last.aclose()

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
        """One API call under the retry policy; ``parse`` runs inside it so a garbled read is read again."""
        client = self.get_conn()
        settings = self.settings
        policy = settings.retry_policy
        if max_retries is not None:
            policy = policy._replace(max_retries=max_retries)

        def attempt() -> tuple[_ModelT, httpx.Response]:
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                raise transport_error(method, path, error, settings.api_key) from None
            except httpx.RequestError as error:  # e.g. an undecodable content-encoding
                raise unreadable(method, path, error, settings.api_key) from None
            if not response.is_success:
                raise api_error(response, settings.api_key)
            return parse(response), response

        return policy.call(attempt, method=method)

    async def _aget(
        self, path: str, *, parse: Callable[[httpx.Response], _ModelT], body: bytes | None = None
    ) -> _ModelT:
        """Async :meth:`_send` of a ``GET`` (or, with a JSON ``body``, of a read-only ``POST``: a garbled answer is
        then raised, not read again) through the shared client; a 429/503 ``Retry-After`` pauses every sharer."""
        method = "GET" if body is None else "POST"
        shared = await self._aclient()
        settings = await self.asettings()
        policy = settings.retry_policy
        transport_errors = async_pool.async_transport_errors()
        if (target := self._atargets.get(path)) is None:
            # Built once, as a trigger reads one URL for hours; each request carries its own timeout (shared client).
            import yarl

            text = settings.base_url + path
            target = (yarl.URL(text), httpx.Request(method, text), async_pool.request_timeout(settings.timeout))
            self._atargets[path] = target
        url, request, timeouts = target

        async def attempt() -> _ModelT:
            if shared.paused_until:  # only a 429/503 ever sets it: no coroutine per request otherwise
                await shared.wait_if_paused()
            try:
                response = await shared.send(url, request, timeouts, body)
            except transport_errors as error:
                raise transport_error(method, path, error, settings.api_key) from None
            except httpx.RequestError as error:  # e.g. an undecodable content-encoding
                raise unreadable(method, path, error, settings.api_key) from None
            if not response.is_success:
                refused = api_error(response, settings.api_key)
                if refused.status_code in PAUSE_STATUSES and refused.retry_after:
                    # One 429 slows every trigger sharing this client, not only the one that got it.
                    shared.pause(min(refused.retry_after, policy.max_wait))
                raise refused
            return parse(response)

        return await policy.acall(attempt, method=method)

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
        :raises EvoLinkConfigError: ``idempotency_key`` is not a printable ASCII string, or a media input is still
            an object-storage URI or local file (nothing is sent).
        :raises EvoLinkAPIError: a non-2xx answer after retries (400/401/402/403/409/413 are not retried).
        :raises EvoLinkTransportError: no answer after retries: the task may or may not exist; retry
            with the same ``idempotency_key``.
        :raises EvoLinkResponseError: a 2xx answer without a readable task (the task may exist; retry with
            the same ``idempotency_key`` to get it back).
        """
        from airflow_provider_evolink.models.responses import VideoGenerationTask

        parsed = parse_request(request)
        if has_unresolved_inputs(parsed):
            raise EvoLinkConfigError(
                "the request names object-storage URIs or local files: EvoLink only fetches public links, so resolve "
                "them first (EvoLinkGenerateVideoOperator does; or airflow_provider_evolink.inputs.resolve_inputs)"
            )
        body = parsed.to_api_json()
        key = idempotency_key or str(uuid.uuid4())
        if not isinstance(key, str) or not key.isascii() or not key.isprintable() or len(key) > 255:
            raise EvoLinkConfigError("idempotency_key must be a printable ASCII string of at most 255 characters")
        task, response = self._send(
            "POST",
            "/v1/videos/generations",
            json=body,
            headers={"Idempotency-Key": key},
            parse=lambda r: parse_model(VideoGenerationTask, r),
        )
        if response.headers.get("idempotency-replayed", "").lower() == "true":
            self.log.info("EvoLink replayed task %s for Idempotency-Key %s (not billed again)", task.id, key)
        return task

    def upload_file(
        self,
        source: str | os.PathLike[str] | bytes | ObjectStoragePath,
        *,
        file_name: str | None = None,
        upload_path: str | None = None,
    ) -> UploadedFile:
        """Upload a file through EvoLink's files API: ``POST /api/v1/files/upload/stream`` on the files host
        (connection extra ``files_base_url``; ``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API
        (inputs)"). Streamed: memory stays flat in the file size.

        The returned ``file_url`` is public for 72 h (``expires_at``) and goes into a request's media field; it,
        ``download_url`` and ``file_id`` (which names the download) are masked in task logs. Each upload uses one
        file of a small per-account quota and is not idempotent: it is re-sent only when nothing can have been
        stored (connect failure or 429; see :mod:`airflow_provider_evolink.hooks.files`).

        :param source: a local path (or ``file://`` URI), an ``ObjectStoragePath`` (or object-storage URI), or
            the bytes to upload.
        :param file_name: the stored name (the service picks a unique one if ``None``).
        :param upload_path: the folder to store it in (by type if ``None``).
        :return: ``file_id``, ``file_url``, ``download_url``, ``mime_type``, ``file_size`` (bytes), ``expires_at``.
        :raises EvoLinkInputError: the source does not exist.
        :raises EvoLinkUploadError: HTTP 200 with ``success: false`` (quota used up, type refused): ``code``, ``msg``.
        :raises EvoLinkAPIError: a non-2xx answer. :raises EvoLinkTransportError: no answer.
        """
        from airflow.sdk.log import mask_secret

        from airflow_provider_evolink.hooks.files import upload  # when a file is uploaded: DAG files do not pay for it

        uploaded = upload(
            self.files_client(), source, file_name=file_name, upload_path=upload_path, settings=self.settings
        )
        for link in (uploaded.file_url, uploaded.download_url, uploaded.file_id):
            if link:
                mask_secret(link)
        # Not the file_id either: the download link is the files host plus the id.
        self.log.info(
            "Uploaded %s (%s bytes, %s) to EvoLink's files API; it is public until %s",
            _describe(source),
            uploaded.file_size,
            uploaded.mime_type,
            uploaded.expires_at,
        )
        return uploaded

    def get_task(self, evolink_task_id: str) -> TaskDetail:
        """Read a task: ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``).

        :raises EvoLinkNotFoundError: no such task (404). :raises EvoLinkBadRequestError: malformed ID (400).
        :raises EvoLinkResponseError: the answer is not a valid task detail (e.g. ``completed`` without results).
        """
        detail, _ = self._send("GET", _task_path(evolink_task_id), parse=task_parser(evolink_task_id))
        return detail

    async def aget_task(self, evolink_task_id: str) -> TaskDetail:
        """Async :meth:`get_task` for triggers: async connection lookup, shared async client, no sync I/O."""
        return await self._aget(_task_path(evolink_task_id), parse=task_parser(evolink_task_id))

    def read_tasks(self, evolink_task_ids: Sequence[str]) -> dict[str, TaskDetail]:
        """Read up to 50 tasks in one call: ``POST /v1/tasks/batch`` (``airflow_provider_evolink/api_reference/
        evolink-api.md``, "Reading many tasks"; not in EvoLink's public docs pages). Retried like a read.

        :param evolink_task_ids: 1 to 50 task IDs (duplicates are read once).
        :return: ``{task ID: detail}`` of the tasks found; an unknown, expired or other account's ID is missing
            (:meth:`get_task` then says which: 404).
        :raises EvoLinkConfigError: not 1 to 50 non-empty IDs (nothing is sent).
        :raises EvoLinkNotFoundError: 404 (or :class:`EvoLinkAPIError` 405): the service has no batch read.
        :raises EvoLinkResponseError: the answer is not ``{"data": [...]}``.
        """
        ids, body = batch_body(evolink_task_ids)
        batch, _ = self._send("POST", BATCH_PATH, content=body, headers=async_pool.JSON_HEADERS, parse=parse_batch)
        return tasks_by_id(batch, ids)

    async def aread_tasks(self, evolink_task_ids: Sequence[str]) -> dict[str, TaskDetail]:
        """Async :meth:`read_tasks` for triggers, through the shared client (a 429 pauses every sharer)."""
        ids, body = batch_body(evolink_task_ids)
        return tasks_by_id(await self._aget(BATCH_PATH, parse=parse_batch, body=body), ids)

    async def await_pause(self) -> None:
        """Sleep while the shared client is paused by a 429/503 ``Retry-After`` (seconds; no wait when not paused),
        so that reads coming due in a pause can be sent together once it ends (``triggers/coalescer.py``)."""
        shared = await self._aclient()
        if shared.paused_until:  # only a 429/503 ever sets it: no coroutine per read otherwise
            await shared.wait_if_paused()

    def list_tasks(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        model: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> TaskList:
        """One page of the account's tasks, newest first: ``GET /v1/tasks`` (``airflow_provider_evolink/
        api_reference/evolink-api.md``, "Reading many tasks"; not in EvoLink's public docs pages).

        :param status: ``processing`` (queued included), ``completed``, ``failed`` or ``cancelled``; ``None``: all.
        :param task_type: ``image``, ``video`` or ``audio`` (the query's ``type``); ``None``: all.
        :param model: only this model's tasks; ``None``: all.
        :param page: the page, from 1. :param page_size: tasks per page (≥ 1).
        :return: :class:`~airflow_provider_evolink.models.task_list.TaskList`: ``data`` (summaries, no result
            links), ``total``, ``page``, ``page_size``.
        :raises EvoLinkConfigError: a filter outside its values (nothing is sent).
        :raises EvoLinkNotFoundError: 404: the service has no task list.
        """
        from airflow_provider_evolink.models.task_list import TaskList

        query = list_query(status=status, task_type=task_type, model=model, page=page, page_size=page_size)
        answer, _ = self._send("GET", LIST_PATH, params=query, parse=lambda r: parse_model(TaskList, r))
        return answer

    def get_credits(self, *, max_retries: int | None = None) -> Credits:
        """Credit balances: ``GET /v1/credits`` (``airflow_provider_evolink/api_reference/evolink-api.md``, "Credits").

        :param max_retries: override the connection's ``max_retries`` for this call.
        :raises EvoLinkResponseError: the answer is HTTP 200 with ``success: false`` (or unreadable).
        """
        credits, _ = self._send("GET", "/v1/credits", max_retries=max_retries, parse=parse_credits)
        return credits

    def get_price_list(self) -> PriceListRead:
        """EvoLink's public price list: ``GET /web/api/models/pricing`` on the connection's API host, sent
        **without** the API key, short timeout, cached per process (:mod:`airflow_provider_evolink.hooks.price_list`;
        ``airflow_provider_evolink/api_reference/evolink-api.md``, "Price list").

        :return: ``(price_list, problem)``: the video SKUs by model (``models.price_list.PriceList``), ``None`` when
            it cannot be read, and ``problem`` saying why (or that an older copy is used). Never raises for the list.
        :raises EvoLinkConfigError: the connection is unusable (its base URL is read from it).
        """
        from airflow_provider_evolink.hooks.price_list import read_price_list  # when a task prices: not at DAG parsing

        return read_price_list(self.base_url)

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
            return False, scrub(f"{type(error).__name__}: {error}", secret)
        finally:
            self.close()


def _task_path(evolink_task_id: str) -> str:
    if not isinstance(evolink_task_id, str) or not evolink_task_id.strip():
        raise EvoLinkConfigError(f"evolink_task_id must be a non-empty string, got {evolink_task_id!r}")
    return _quoted_task_path(evolink_task_id)


@functools.lru_cache(maxsize=4096)
def _quoted_task_path(evolink_task_id: str) -> str:
    """The path of a task, quoted once: a trigger reads the same task for hours."""
    return f"/v1/tasks/{quote(evolink_task_id.strip(), safe='')}"


def _describe(source: object) -> str:
    """How logs name an upload source: its path or URI, or the size of raw bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        return f"{len(source)} bytes"
    return str(source)
