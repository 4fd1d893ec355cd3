"""
Reading many EvoLink tasks: the request of ``POST /v1/tasks/batch`` and ``GET /v1/tasks``, and their answers.

API reference: ``airflow_provider_evolink/api_reference/evolink-api.md``, "Reading many tasks" (neither call is in
EvoLink's public docs pages). :class:`~airflow_provider_evolink.hooks.evolink.EvoLinkHook` sends them
(``read_tasks``, ``aread_tasks``, ``list_tasks``); this module checks what is asked before anything is sent and reads
what comes back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from airflow_provider_evolink.exceptions import EvoLinkConfigError
from airflow_provider_evolink.hooks.responses import parse_model

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import TaskDetail
    from airflow_provider_evolink.models.task_list import TaskBatch

__all__ = ["BATCH_PATH", "LIST_PATH", "MAX_BATCH_READ", "batch_body", "list_query", "parse_batch", "tasks_by_id"]

#: The batch read.
BATCH_PATH = "/v1/tasks/batch"
#: The task list.
LIST_PATH = "/v1/tasks"
#: Task IDs one batch read takes at most.
MAX_BATCH_READ = 50


def batch_body(evolink_task_ids: Sequence[str]) -> tuple[tuple[str, ...], bytes]:
    """The distinct IDs asked for (stripped, in order) and the JSON body ``{"task_ids": [...]}``.

    :raises EvoLinkConfigError: not a list of 1 to ``MAX_BATCH_READ`` (50) non-empty strings, naming
        ``evolink_task_ids`` and the rule (nothing is sent).
    """
    if isinstance(evolink_task_ids, str | bytes) or not isinstance(evolink_task_ids, Sequence):
        raise EvoLinkConfigError(f"evolink_task_ids must be a list of task IDs, got {type(evolink_task_ids).__name__}")
    if any(not isinstance(task_id, str) or not task_id.strip() for task_id in evolink_task_ids):
        raise EvoLinkConfigError("evolink_task_ids must hold non-empty strings only")
    ids = tuple(dict.fromkeys(task_id.strip() for task_id in evolink_task_ids))
    if not 1 <= len(ids) <= MAX_BATCH_READ:
        raise EvoLinkConfigError(f"evolink_task_ids must name 1 to {MAX_BATCH_READ} tasks, got {len(ids)}")
    return ids, json.dumps({"task_ids": ids}, separators=(",", ":")).encode()


def parse_batch(response: httpx.Response) -> TaskBatch:
    """A batch answer: every item that is a valid task detail. An item that is not (e.g. ``completed`` without
    results) is left out, so its task is read alone and fails as a single read would.

    :raises EvoLinkResponseError: the body is not ``{"data": [object, ...]}`` (the endpoint is not what it should
        be); the message names fields and rules, never values.
    """
    from airflow_provider_evolink.models.responses import TaskDetail
    from airflow_provider_evolink.models.task_list import TaskBatch, TaskBatchEnvelope

    try:
        return TaskBatch.model_validate_json(response.content)
    except pydantic.ValidationError:
        envelope = parse_model(TaskBatchEnvelope, response)
    valid = []
    for item in envelope.data:
        try:
            valid.append(TaskDetail.model_validate(item))
        except pydantic.ValidationError:
            continue
    return TaskBatch.model_construct(data=valid)


def tasks_by_id(batch: TaskBatch, asked: Sequence[str]) -> dict[str, TaskDetail]:
    """``{task ID: detail}`` of the asked tasks the answer holds; a task nobody asked for is ignored (a proxy or
    cache mixing answers up must not end another wait)."""
    wanted = set(asked)
    return {detail.id: detail for detail in batch.data if detail.id in wanted}


def list_query(
    *, status: str | None, task_type: str | None, model: str | None, page: int, page_size: int
) -> Mapping[str, Any]:
    """The query of ``GET /v1/tasks``: only the filters given.

    :raises EvoLinkConfigError: ``status`` or ``task_type`` outside the values the endpoint knows, ``model`` not a
        non-empty string, ``page`` or ``page_size`` not a whole number ≥ 1; naming the argument (nothing is sent).
    """
    from airflow_provider_evolink.models.task_list import LIST_STATUSES, LIST_TYPES

    if status is not None and status not in LIST_STATUSES:
        raise EvoLinkConfigError(f"status must be one of {', '.join(LIST_STATUSES)} or None, got {status!r}")
    if task_type is not None and task_type not in LIST_TYPES:
        raise EvoLinkConfigError(f"task_type must be one of {', '.join(LIST_TYPES)} or None, got {task_type!r}")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise EvoLinkConfigError(f"model must be a non-empty string or None, got {model!r}")
    for name, number in (("page", page), ("page_size", page_size)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise EvoLinkConfigError(f"{name} must be a whole number >= 1, got {number!r}")
    query: dict[str, Any] = {"page": page, "page_size": page_size}
    for name, value in (("status", status), ("type", task_type), ("model", model)):
        if value is not None:
            query[name] = value
    return query
