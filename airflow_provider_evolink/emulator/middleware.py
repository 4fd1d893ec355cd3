"""The outermost ASGI layer: an ``x-request-id`` on every response, the request log, and injected faults.

A dropped connection or a cut-off body needs the raw socket, which ASGI does not expose (an app that raises
before answering gets a 500 from uvicorn, not a hang-up). So the server hands this layer uvicorn's set of open
connections; the request's connection is the one whose peer address is the scope's ``client``, and its
transport is aborted (drop: nothing sent) or closed (cutoff: flushes the half body already written, then FIN).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import deque
from collections.abc import Collection
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import api_error
from .faults import Faults, FaultSchedule

_FAULT_ERRORS = {
    "429": (429, "rate_limit_exceeded", "Too many requests, please try again later", "rate_limit_error"),
    "500": (500, "internal_error", "Internal server error", "api_error"),
    "503": (503, "service_unavailable", "Service temporarily unavailable, please try again later", "api_error"),
}


class _HungUp(Exception):
    """Raised into the app once its connection is cut, so it stops producing a body nobody receives."""


class EmulatorMiddleware:
    """Wraps the emulator app: request IDs, the request log (``log``) and the faults ``faults`` puts in force.

    Each log entry is a dict: ``time`` (epoch s), ``request_id``, ``method``, ``path``, ``host`` (``"api"``, or
    ``"files"`` for the files API port), ``idempotency_key``, ``auth`` (an ``Authorization`` header was sent),
    ``range`` (the ``Range`` header), ``status`` (``None`` until answered, and for a dropped connection),
    ``fault`` (``"429"``, ``"500"``, ``"503"``, ``"drop"``, ``"slow"``, ``"cutoff"`` or ``None``) and
    ``task_id`` (where the route knows one). ``/_emulator/`` calls are not logged.

    :ivar connections: uvicorn's open connections (``Server.server_state.connections``); set by the server
        before it serves, needed for the drop and cutoff faults.
    :ivar files_port: the port of the files API (set by the server), to tell its requests apart in the log.
    """

    def __init__(self, app: ASGIApp, faults: FaultSchedule, log: list[dict[str, Any]], rng: random.Random) -> None:
        self.app = app
        self.faults = faults
        self.log = log
        self.rng = rng
        self.connections: Collection[Any] = ()
        self.files_port: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = f"req-{uuid.uuid4().hex}"
        entry: dict[str, Any] = {
            "time": time.time(),
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "host": "files" if (scope.get("server") or (None, None))[1] == self.files_port else "api",
            "idempotency_key": headers.get("idempotency-key"),
            "auth": "authorization" in headers,
            "range": headers.get("range"),
            "status": None,
            "fault": None,
            "task_id": None,
        }
        # Logged on arrival and filled in as the answer goes out, so a client that has its answer finds it logged.
        if not scope["path"].startswith("/_emulator/"):
            self.log.append(entry)
        state = scope.setdefault("state", {})  # routes leave ``task_id`` here (Starlette's request.state)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                entry["task_id"] = state.get("task_id")
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        await self._respond(scope, receive, send_with_id, entry)

    async def _respond(self, scope: Scope, receive: Receive, send: Send, entry: dict[str, Any]) -> None:
        """Answer the request, injecting at most one fault (noted in ``entry`` before it takes effect)."""
        faults = self.faults.current()
        if scope["path"].startswith("/files/") and self.rng.random() < faults.rate_cutoff:
            await self._cut_off(scope, receive, send, entry)
            return
        fault = entry["fault"] = faults.api_fault(self.rng.random()) if scope["path"].startswith("/v1/") else None
        if fault in _FAULT_ERRORS:
            await self._fault_response(fault, faults)(scope, receive, send)
        elif fault == "drop":
            self._transport(scope).abort()
            await _await_disconnect(receive)
        else:
            if fault == "slow":
                # Body first, as a real server: a client giving up mid-wait leaves a request that still takes effect.
                receive = await _buffered(receive)
                await asyncio.sleep(faults.slow_seconds)
            await self.app(scope, receive, send)

    @staticmethod
    def _fault_response(fault: str, faults: Faults) -> ASGIApp:
        status, code, message, error_type = _FAULT_ERRORS[fault]
        headers = {"retry-after": str(faults.retry_after_seconds)} if status == 429 else None
        return api_error(status, code, message, error_type, headers=headers)

    async def _cut_off(self, scope: Scope, receive: Receive, send: Send, entry: dict[str, Any]) -> None:
        """Run the app but stop its body halfway: the head keeps the full ``Content-Length``. A HEAD, an error
        or a body under 2 bytes goes through whole (and is not logged as cut)."""
        allowed: int | None = None  # body bytes still let through; None: not cutting this response

        async def send_half(message: Message) -> None:
            nonlocal allowed
            if entry["fault"] == "cutoff":
                raise _HungUp
            if message["type"] == "http.response.start":
                length = int(Headers(raw=message.get("headers", [])).get("content-length", 0))
                if scope["method"] == "GET" and message["status"] in (200, 206) and length >= 2:
                    allowed = length // 2
            elif allowed is not None:
                body = message.get("body", b"")
                if len(body) >= allowed:
                    await send({"type": "http.response.body", "body": body[:allowed], "more_body": True})
                    entry["fault"] = "cutoff"
                    self._transport(scope).close()
                    raise _HungUp
                allowed -= len(body)
            await send(message)

        try:
            await self.app(scope, receive, send_half)
        except* _HungUp:
            await _await_disconnect(receive)

    def _transport(self, scope: Scope) -> asyncio.Transport:
        client = tuple(scope.get("client") or ())
        for connection in list(self.connections):
            if getattr(connection, "client", None) == client:
                transport: asyncio.Transport = connection.transport
                return transport
        raise RuntimeError("this request's connection is unknown: drop and cutoff need the emulator's own server")


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it, then reads on (a disconnect)."""
    messages: deque[Message] = deque()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.popleft() if messages else await receive()

    return replay


async def _await_disconnect(receive: Receive) -> None:
    # Wait until uvicorn has seen the connection go, so it neither answers 500 nor logs an unfinished response.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (await receive())["type"] != "http.disconnect":
                pass
