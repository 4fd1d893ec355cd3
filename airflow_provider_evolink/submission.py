"""
What was asked of EvoLink, in a few secret-free fields: the generate operator records it, the transfer copies
it into its Asset events (for the gallery and anyone reading the events), because EvoLink's task detail
(``GET /v1/tasks/{task_id}``) carries neither the prompt nor the credits.

The summary (XCom key :data:`XCOM_SUBMISSION` of ``EvoLinkGenerateVideoOperator``)::

    {"evolink_task_id": str, "model": str,
     "prompt": str | None,           # at most PROMPT_CHARS characters, "…" marking a cut
     "duration": int | None,         # seconds asked for (None: the model decides, e.g. motion control)
     "resolution": str | None,       # the request's quality, e.g. "720p"
     "usage": dict}                  # the operator's evolink_usage XCom at submission (models.credit_usage):
                                     # credits_reserved, billing_rule, credits, ...

No URL of any kind is kept (media inputs may be signed links). ``usage`` is the reservation of the create answer
(``POST /v1/videos/generations``, ``airflow_provider_evolink/api_reference/evolink-api.md``), as the operator's
``evolink_usage`` XCom has it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_evolink.models.requests import EvoLinkRequest

__all__ = ["PROMPT_CHARS", "XCOM_SUBMISSION", "find_submission", "summarize"]

#: XCom key of the summary pushed by ``EvoLinkGenerateVideoOperator``.
XCOM_SUBMISSION = "evolink_submission"
#: Longest prompt kept, in characters (EvoLink accepts 2,500).
PROMPT_CHARS = 200


def summarize(request: EvoLinkRequest, evolink_task_id: str, usage: dict[str, Any]) -> dict[str, Any]:
    """The summary of ``request`` (see the module docstring) for the EvoLink task it created.

    :param usage: the task's credits as ``models.credit_usage`` gives them.
    """
    prompt = getattr(request, "prompt", None)
    if isinstance(prompt, str) and len(prompt) > PROMPT_CHARS:
        prompt = prompt[: PROMPT_CHARS - 1].rstrip() + "…"
    duration = getattr(request, "duration", None)
    resolution = getattr(request, "quality", None)
    return {
        "evolink_task_id": evolink_task_id,
        "model": request.model,
        "prompt": prompt if isinstance(prompt, str) and prompt else None,
        "duration": duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        "resolution": resolution if isinstance(resolution, str) else None,
        "usage": usage,
    }


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
