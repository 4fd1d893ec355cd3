"""
The XCom contract of the provider's tasks: every key they push, and the builder of every value shape.

XCom is stored in plain text and shown to anyone who can read the DAG, so no value holds a signed result link, an
uploaded-file URL the user did not ask for, or the API key. ``return_value`` is Airflow's own key: the generate
operator and the sensor put the EvoLink task ID and the completed detail there, the transfer its stored URIs.

Keys (``EvoLinkGenerateVideoOperator``; the README's XCom table lists the same keys, a test keeps them equal):

- :data:`XCOM_TASK_ID`: the EvoLink task ID (``str``), pushed before any waiting;
- :data:`XCOM_USAGE`: the task's credits (:func:`~airflow_provider_evolink.models.pricing.credit_usage`), pushed
  after submitting and again when the task ends;
- :data:`XCOM_SUBMISSION`: what was asked, secret-free (:func:`submission_summary`), read back by the transfer
  for its Asset events (:func:`find_submission`), because EvoLink's task detail carries neither prompt nor credits;
- :data:`XCOM_TASK_DETAIL`: the completed task detail (:func:`completed_detail`), with ``wait_for_completion``.

Sources: ``POST /v1/videos/generations`` and ``GET /v1/tasks/{task_id}``
(``airflow_provider_evolink/api_reference/evolink-api.md``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.compat import AirflowException
from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
    from airflow_provider_evolink.models.requests import EvoLinkRequest
    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = [
    "KEYS",
    "PROMPT_CHARS",
    "XCOM_SUBMISSION",
    "XCOM_TASK_DETAIL",
    "XCOM_TASK_ID",
    "XCOM_USAGE",
    "completed_detail",
    "find_submission",
    "finished_summary",
    "own_xcom",
    "short_prompt",
    "submission_summary",
]

#: XCom key of the EvoLink task ID, pushed before any waiting (``return_value`` holds it too).
XCOM_TASK_ID = "evolink_task_id"
#: XCom key of the completed task detail (``wait_for_completion=True``): :func:`completed_detail`.
XCOM_TASK_DETAIL = "evolink_task"
#: XCom key of the task's credits (``models.credit_usage``), pushed after submitting and again when the task ends.
XCOM_USAGE = "evolink_usage"
#: XCom key of the secret-free summary of the request: :func:`submission_summary`.
XCOM_SUBMISSION = "evolink_submission"
#: Every key the provider pushes besides ``return_value``, with what it holds (the README's XCom table).
KEYS = {
    XCOM_TASK_ID: "the EvoLink task ID",
    XCOM_USAGE: "the task's credits",
    XCOM_SUBMISSION: "what was asked, without URLs",
    XCOM_TASK_DETAIL: "the completed task detail",
}
#: Longest prompt kept in the summary, in characters (EvoLink accepts 2,500).
PROMPT_CHARS = 200


def completed_detail(detail: TaskDetail, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A completed task's detail as the JSON dict the sensor returns and the operator pushes as ``evolink_task``.

    ``results`` is left out and only counted (signed links never go into XCom); whoever needs the files re-reads
    the task, as ``EvoLinkToStorageOperator`` does. Shape::

        {"id": str, "model": str | None, "status": "completed", "progress": int,
         "created": int | None,                 # epoch seconds
         "result_count": int,                   # how many result files the task has
         "task_info": {"can_cancel", "estimated_time", "video_duration"} | None,   # seconds
         "usage": dict | None}                 # credits, as models.credit_usage gives them

    :param usage: the task's credits (:func:`~airflow_provider_evolink.models.credit_usage` of the create answer's
        ``usage``: ``POST /v1/videos/generations``; the task detail has none), when the caller has it.
    :raises AirflowException: the detail is not ``completed`` (EvoLink reported completion, then something else).
    """
    if detail.status is not TaskStatus.COMPLETED:
        raise AirflowException(f"EvoLink task {detail.id} was reported completed but now reads {detail.status.value}")
    public = detail.model_dump(mode="json", include={"id", "model", "status", "progress", "created", "task_info"})
    return public | {"result_count": len(detail.results), "usage": usage}


def submission_summary(request: EvoLinkRequest, evolink_task_id: str, usage: dict[str, Any]) -> dict[str, Any]:
    """What ``request`` asked of EvoLink, secret-free, for the EvoLink task it created (``evolink_submission``)::

        {"evolink_task_id": str, "model": str,
         "prompt": str | None,    # at most PROMPT_CHARS characters, "…" marking a cut
         "duration": int | None,  # seconds asked for (None: the model decides, e.g. motion control)
         "quality": str | None,   # the request's quality, e.g. "720p"
         "usage": dict}           # the evolink_usage XCom at submission (models.credit_usage)

    Once the operator waited for the task, :func:`finished_summary` pushes it again with the final ``usage`` and
    ``render_seconds``.

    No URL of any kind is kept (media inputs may be signed links). ``usage`` is the reservation of the create
    answer (``POST /v1/videos/generations``).
    """
    duration = getattr(request, "duration", None)
    quality = getattr(request, "quality", None)
    return {
        "evolink_task_id": evolink_task_id,
        "model": request.model,
        "prompt": short_prompt(request),
        "duration": duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        "quality": quality if isinstance(quality, str) else None,
        "usage": usage,
    }


def finished_summary(
    submitted: dict[str, Any], usage: dict[str, Any], detail: TaskDetail, now: float
) -> dict[str, Any]:
    """The submission summary once the operator saw its task complete: ``usage`` brought up to date (with the
    estimate and its source beside the reservation) and ``render_seconds`` added: whole seconds from the task's
    ``created`` to ``now`` (epoch seconds; when the provider saw it complete, so up to one poll interval late),
    ``None`` when the detail has no ``created``. The transfer copies both into its Asset events.
    """
    render = max(0, round(now - detail.created)) if detail.created is not None else None
    return submitted | {"usage": usage, "render_seconds": render}


def short_prompt(request: EvoLinkRequest) -> str | None:
    """The request's prompt cut to :data:`PROMPT_CHARS` ("…" marking a cut), ``None`` without one: what the
    summary keeps and the submission log line shows."""
    prompt = getattr(request, "prompt", None)
    if not isinstance(prompt, str) or not prompt:
        return None
    return prompt if len(prompt) <= PROMPT_CHARS else prompt[: PROMPT_CHARS - 1].rstrip() + "…"


def own_xcom(ti: Any, key: str) -> Any:
    """What the running task instance itself (its own map index) pushed under ``key``, e.g. before it deferred.

    :param ti: the running task instance (``context["ti"]``).
    """
    return ti.xcom_pull(task_ids=ti.task_id, key=key, map_indexes=ti.map_index)


def find_submission(ti: Any, task_ids: Collection[str], evolink_task_id: str) -> dict[str, Any]:
    """The summary that one of ``task_ids`` (any map index) pushed for ``evolink_task_id``; ``{}`` if none did.

    :param ti: the running task instance (``context["ti"]``).
    """
    if not task_ids:
        return {}
    pulled = ti.xcom_pull(task_ids=sorted(task_ids), key=XCOM_SUBMISSION)
    for value in pulled if isinstance(pulled, list) else [pulled]:
        if isinstance(value, dict) and value.get("evolink_task_id") == evolink_task_id:
            return value
    return {}
