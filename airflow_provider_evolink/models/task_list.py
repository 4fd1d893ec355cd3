"""
Pydantic v2 models of EvoLink's answers about many tasks: a batch read and the account's task list.

Sources: ``airflow_provider_evolink/api_reference/evolink-api.md``, "Reading many tasks": ``POST /v1/tasks/batch``
answers ``{"data": [<task detail>, ...]}`` with the objects of ``GET /v1/tasks/{task_id}``
(``get-task-detail.openapi.yaml``), and ``GET /v1/tasks`` answers one page of list items. Neither endpoint is in
EvoLink's public docs pages: the provider uses them with a fallback
(:mod:`airflow_provider_evolink.triggers.coalescer`).
Like :mod:`.responses`, they ignore fields they do not know and tolerate missing optional ones.
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_evolink.models.responses import Progress, TaskDetail

__all__ = [
    "LIST_STATUSES",
    "LIST_TYPES",
    "TaskBatch",
    "TaskBatchEnvelope",
    "TaskList",
    "TaskListItem",
]

#: ``status`` filters of ``GET /v1/tasks`` (``processing`` includes queued tasks).
LIST_STATUSES = ("processing", "completed", "failed", "cancelled")
#: ``type`` filters of ``GET /v1/tasks``.
LIST_TYPES = ("image", "video", "audio")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class TaskBatch(_Answer):
    """Answer of ``POST /v1/tasks/batch``: ``data``, the details of the tasks found (unknown, expired and other
    accounts' IDs are simply missing), each a :class:`~.responses.TaskDetail`."""

    data: list[TaskDetail]


class TaskBatchEnvelope(_Answer):
    """The shape of a batch answer without reading its items: ``{"data": [object, ...]}``. A body that is not this
    shape means the endpoint is not what the provider expects (it then reads tasks one by one)."""

    data: list[dict[str, Any]]


class TaskListItem(_Answer):
    """One task of ``GET /v1/tasks``: a summary, never result links.

    ``created_at`` as the service sends it (epoch seconds or a timestamp string); ``duration`` in seconds;
    ``credits_used`` in credits.
    """

    id: str = Field(min_length=1)
    model: str | None = None
    type: str | None = None
    status: str
    progress: Progress = 0
    created_at: int | float | str | None = None
    duration: float | None = None
    has_results: bool = False
    result_count: int = 0
    has_error: bool = False
    credits_used: float | None = None


class TaskList(_Answer):
    """Answer of ``GET /v1/tasks``: one page of the account's tasks, newest first; ``total`` tasks match."""

    data: list[TaskListItem]
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
