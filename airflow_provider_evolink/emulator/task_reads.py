"""The emulator's reads of many tasks: ``POST /v1/tasks/batch`` and ``GET /v1/tasks``.

Shapes from ``airflow_provider_evolink/api_reference/evolink-api.md``, "Reading many tasks" (endpoints EvoLink's
client uses, not in its public docs pages): the batch answers ``{"data": [...]}`` with the objects
``GET /v1/tasks/{task_id}`` answers, leaving unknown IDs out; the list answers one page of summaries, newest first.
Both get the fault injection of every ``/v1/`` route (``middleware.py``); the fault ``rate_batch_404``
(``faults.py``) makes the batch answer 404 like a server without it, for the provider's fallback.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from airflow_provider_evolink.hooks.batch import MAX_BATCH_READ

from .errors import invalid_request, json_object
from .faults import FaultSchedule
from .store import Task, TaskStore

__all__ = ["add_task_reads", "list_item"]
_LIST_STATUSES = {"processing": ("pending", "processing"), "completed": ("completed",), "failed": ("failed",)}
_LIST_TYPES = ("image", "video", "audio")


def list_item(task: Task, now: float) -> dict[str, Any]:
    """A task as ``GET /v1/tasks`` lists it: a summary without result links; a failed task used no credits."""
    status, progress = task.status(now)
    return {
        "id": task.id,
        "model": task.model,
        "type": "video",
        "status": status,
        "progress": progress,
        "created_at": int(task.created_at),
        "duration": task.duration,
        "has_results": status == "completed",
        "result_count": 1 if status == "completed" else 0,
        "has_error": status == "failed",
        "credits_used": 0.0 if status == "failed" else task.credits,
    }


def add_task_reads(
    app: FastAPI,
    store: TaskStore,
    *,
    faults: FaultSchedule,
    unauthorized: Callable[[Request], Response | None],
    base_url: Callable[[Request], str],
) -> None:
    """Register the batch read and the task list on ``app``.

    :param unauthorized: the 401 answer for a request without a valid key, else ``None`` (the app's own check).
    :param base_url: the root result links point at, for a request.
    """

    @app.post("/v1/tasks/batch")
    async def read_tasks(request: Request) -> Response:
        if random.random() < faults.current().rate_batch_404:
            return JSONResponse({"detail": "Not Found"}, status_code=404)  # what a server without the route says
        if (denied := unauthorized(request)) is not None:
            return denied
        body = await json_object(request)
        ids = body.get("task_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(task_id, str) for task_id in ids):
            return invalid_request("task_ids", "task_ids must be a list of task ID strings")
        if not 1 <= len(ids) <= MAX_BATCH_READ:
            return invalid_request("task_ids", f"task_ids must hold 1 to {MAX_BATCH_READ} IDs, got {len(ids)}")
        data = []
        for task_id in dict.fromkeys(ids):
            if (task := await store.settle(task_id, time.time())) is not None:
                data.append(task.detail_json(time.time(), store.result_urls(task, base_url(request))))
        # The request log's task_id: the tasks this call read, comma-separated.
        request.state.task_id = ",".join(item["id"] for item in data) or None
        return JSONResponse({"data": data})

    @app.get("/v1/tasks")
    async def list_tasks(
        request: Request, status: str = "", type: str = "", model: str = "", page: int = 1, page_size: int = 20
    ) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        if status and status not in (*_LIST_STATUSES, "cancelled"):
            return invalid_request("status", f"status must be one of {', '.join([*_LIST_STATUSES, 'cancelled'])}")
        if type and type not in _LIST_TYPES:
            return invalid_request("type", f"type must be one of {', '.join(_LIST_TYPES)}")
        if page < 1 or not 1 <= page_size <= 100:
            return invalid_request("page_size" if page >= 1 else "page", "page must be >= 1, page_size 1 to 100")
        now = time.time()
        items = [list_item(task, now) for task in store.tasks()]
        items = [
            item
            for item in items
            if (not status or item["status"] in _LIST_STATUSES.get(status, ()))
            and (not type or item["type"] == type)
            and (not model or item["model"] == model)
        ]
        items.sort(key=lambda item: item["created_at"], reverse=True)
        start = (page - 1) * page_size
        return JSONResponse(
            {"data": items[start : start + page_size], "total": len(items), "page": page, "page_size": page_size}
        )
