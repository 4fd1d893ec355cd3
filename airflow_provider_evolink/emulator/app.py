"""The emulator's HTTP routes (FastAPI).

EvoLink API (Bearer auth), from ``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml`` and
``airflow_provider_evolink/api_reference/evolink-api.md``:

- ``POST /v1/videos/generations`` — create (``kling-*.openapi.yaml``,
``airflow_provider_evolink/api_reference/evolink-api.md`` for pricing, idempotency).
- ``GET /v1/tasks/{task_id}`` — task detail (``get-task-detail.openapi.yaml``).
- ``GET /v1/credits`` — balance (``airflow_provider_evolink/api_reference/evolink-api.md``).
- ``GET /web/api/models/pricing`` — the public price list, no auth (``price_list.py``: the prices tasks reserve at).
- ``POST /v1/tasks/batch`` and ``GET /v1/tasks`` — many tasks at once (``task_reads.py``).

When a task starts, every media input is fetched and probed (``fetch.py``; setting ``fetch_inputs``): an
unreachable or unusable one fails the task with a documented ``error.code``. The files API is a separate app on
its own port (``files.py``).

Result host and samples (no auth): ``GET|HEAD /files/{task_id}/0.mp4?expires=&sig=`` (signed, expiring),
``/samples/reference.mp4`` and ``/samples/character.jpg``; all with ``Content-Length`` and single HTTP ranges.

Emulator control (no auth): ``GET|DELETE /_emulator/requests`` (the request log), ``GET|POST /_emulator/faults``
(``POST`` takes :class:`~.faults.Faults` field names and an optional ``duration_seconds``), ``GET|POST
/_emulator/prices`` (``POST`` changes prices: ``price_list.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import time
from collections.abc import Collection
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from airflow_provider_evolink.ranges import RangeNotSatisfiable, byte_range

from . import media
from .errors import api_error, cdn_error, invalid_request, json_object
from .faults import FaultSchedule
from .fetch import FETCH_TIMEOUT_SECONDS, check_inputs, media_inputs
from .price_list import price_list_router
from .schemas import KNOWN_MODELS, validate_request
from .store import Task, TaskStore
from .task_reads import add_task_reads

_REPLAYED = {"idempotency-replayed": "true"}


def create_app(
    store: TaskStore,
    *,
    api_keys: Collection[str],
    accept_any_model: bool,
    result_size_bytes: int | None,
    faults: FaultSchedule,
    log: list[dict[str, Any]],
    fetch_inputs: bool = True,
    small_videos: bool = False,
) -> FastAPI:
    """The emulator app over ``store``.

    :param api_keys: Bearer tokens accepted on ``/v1/`` routes.
    :param accept_any_model: accept any string ``model`` (unknown ones unvalidated) instead of 403.
    :param result_size_bytes: serve results as a streamed blob of this many bytes instead of an MP4.
    :param faults: the fault settings ``/_emulator/faults`` reads and changes.
    :param log: the request log ``/_emulator/requests`` lists (filled by the middleware).
    :param fetch_inputs: fetch and probe every media input when a task starts (:mod:`.fetch`), failing the task
        with the documented code when one is unreachable or unusable.
    :param small_videos: render result videos at a quarter of EvoLink's size on each side (``media.frame_size``).
    """
    app = FastAPI(title="EvoLink emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(price_list_router(store.prices))  # GET /web/api/models/pricing (public), /_emulator/prices
    fetchers: list[httpx.AsyncClient] = []  # made on the server's event loop, at the first fetch

    def fetcher() -> httpx.AsyncClient:
        if not fetchers:
            # No credentials and no proxies from the environment: EvoLink reaches only what is public.
            timeout = httpx.Timeout(FETCH_TIMEOUT_SECONDS, connect=10.0)
            fetchers.append(httpx.AsyncClient(follow_redirects=True, timeout=timeout, trust_env=False))
        return fetchers[0]

    def unauthorized(request: Request) -> JSONResponse | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token:
            message = "Authentication required: send 'Authorization: Bearer <API key>'"
        elif scheme.lower() != "bearer" or token.strip() not in api_keys:
            message = "Invalid or expired token"
        else:
            return None
        return api_error(401, "unauthorized", message, "authentication_error")

    @app.post("/v1/videos/generations")
    async def create_video_generation(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body = await json_object(request)
        if not isinstance(body, dict):
            return invalid_request("body", "the request body must be a JSON object")
        now = time.time()
        key = request.headers.get("idempotency-key")
        fingerprint = store.fingerprint(body)
        if key is not None and (first := store.idempotent(key)) is not None:
            first_fingerprint, task_id = first
            if first_fingerprint != fingerprint:
                return api_error(
                    409,
                    "idempotency_conflict",
                    "This Idempotency-Key was already used with a different request body",
                    "invalid_request_error",
                    param="Idempotency-Key",
                )
            request.state.task_id = task_id
            task = store.get(task_id)
            assert task is not None
            return JSONResponse(task.creation_json(store.estimated_time), headers=_REPLAYED)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return invalid_request("model", "model is required and must be a string")
        if model in KNOWN_MODELS:
            if (problem := validate_request(body)) is not None:
                return invalid_request(problem.param, problem.message)
        elif not accept_any_model:
            return unknown_model(model)
        price, _ = store.quote(body)
        remaining = store.remaining_credits(now)
        if price > remaining:
            return api_error(
                402,
                "insufficient_quota",
                f"Insufficient quota. Please top up your account. (needs {price} credits, {remaining} left)",
                "insufficient_quota",
            )
        task = store.create(body, now)
        request.state.task_id = task.id
        if fetch_inputs and next(media_inputs(body), None) is not None:
            store.check_inputs(task.id, check_inputs(body, fetcher()))
        if key is not None:
            store.remember(key, fingerprint, task.id)
        return JSONResponse(task.creation_json(store.estimated_time))

    @app.get("/v1/tasks/{task_id}")
    async def get_task_detail(request: Request, task_id: str) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        if not task_id.startswith("task-unified-"):
            return api_error(
                400,
                "invalid_task_id",
                "Invalid task ID format, must start with 'task-unified-'",
                "invalid_request_error",
                param="task_id",
            )
        task = await store.settle(task_id, time.time())
        if task is None:
            return api_error(404, "task_not_found", "The requested task could not be found", "invalid_request_error")
        request.state.task_id = task_id
        return JSONResponse(task.detail_json(time.time(), store.result_urls(task, _base_url(request))))

    add_task_reads(app, store, faults=faults, unauthorized=unauthorized, base_url=_base_url)

    @app.get("/v1/credits")
    async def get_credits(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        now = time.time()
        balance = {"remaining_credits": store.remaining_credits(now), "used_credits": store.used_credits(now)}
        return JSONResponse(
            {"success": True, "data": {"user": balance, "token": {**balance, "unlimited_credits": False}}}
        )

    @app.api_route("/files/{task_id}/{name}", methods=["GET", "HEAD"])
    async def result_file(request: Request, task_id: str, name: str, expires: str = "", sig: str = "") -> Response:
        request.state.task_id = task_id
        if not hmac.compare_digest(sig, store.sign(task_id, expires, name)):
            return cdn_error(403, "SignatureDoesNotMatch", "The request signature does not match")
        if not expires.isdigit() or time.time() > int(expires):
            return cdn_error(403, "AccessDenied", "Request has expired")
        task = store.get(task_id)
        if task is None or name not in task.result_names:
            return cdn_error(404, "NoSuchKey", "The specified key does not exist")
        return serve(request, await asyncio.to_thread(result_content, task, result_size_bytes, small_videos))

    @app.api_route("/samples/reference.mp4", methods=["GET", "HEAD"])
    async def sample_reference_video(request: Request) -> Response:
        return serve(request, await asyncio.to_thread(media.reference_video))

    @app.api_route("/samples/character.jpg", methods=["GET", "HEAD"])
    async def sample_character_image(request: Request) -> Response:
        return serve(request, await asyncio.to_thread(media.character_image))

    @app.get("/_emulator/requests")
    async def list_requests() -> Response:
        return JSONResponse(list(log))

    @app.delete("/_emulator/requests")
    async def clear_requests() -> Response:
        log.clear()
        return Response(status_code=204)

    @app.get("/_emulator/faults")
    async def get_faults() -> Response:
        return JSONResponse(dataclasses.asdict(faults.current()))

    @app.post("/_emulator/faults")
    async def set_faults(request: Request) -> Response:
        try:
            changes = await request.json()
            duration = changes.pop("duration_seconds", None)
            current = faults.change(changes, duration)
        except (AttributeError, TypeError, ValueError) as error:
            return invalid_request("body", f"invalid fault settings: {error}")
        return JSONResponse(dataclasses.asdict(current))

    return app


def result_content(task: Task, result_size_bytes: int | None, small_videos: bool = False) -> media.Content:
    """What a completed task's result link serves: its MP4 (at EvoLink's size for its quality, a quarter of it with
    ``small_videos``), or a blob of ``result_size_bytes`` if set."""
    if result_size_bytes is not None:
        return media.BlobContent(result_size_bytes)
    return media.result_video(task.duration, task.aspect_ratio, task.quality, audio=task.audio, small=small_videos)


def unknown_model(model: str) -> JSONResponse:
    """EvoLink's answer to a model the key may not use (403 ``model_access_denied``, the only documented refusal of a
    model), its message naming the emulator's way to accept any model."""
    message = (
        f"Token does not have access to model: {model} (the EvoLink emulator knows only its catalogue's models; "
        "start it with --accept-any-model, or EvoLinkEmulator(accept_any_model=True), to accept any model)"
    )
    return api_error(403, "model_access_denied", message, "invalid_request_error", param="model")


def _base_url(request: Request) -> str:
    # Results point back at the host the client used, so they work behind port mappings too.
    return str(request.base_url).rstrip("/")


def serve(request: Request, content: media.Content) -> Response:
    """``content`` with ``Content-Length``, ``Accept-Ranges`` and a single ``Range`` (206, or 416 past the end)."""
    try:
        span = byte_range(request.headers.get("range"), content.size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={"content-range": f"bytes */{content.size}"})
    start, end = span or (0, content.size)
    headers = {"accept-ranges": "bytes", "content-length": str(end - start), "content-type": content.media_type}
    if span is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{content.size}"
    status = 206 if span is not None else 200
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(content.chunks(start, end), status_code=status, headers=headers)
