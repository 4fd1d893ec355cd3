"""
Review before publishing: a person watches a stored EvoLink video and approves or rejects it.

Built on Airflow's human-in-the-loop operators (``airflow.providers.standard.operators.hitl``, Airflow 3.1+):
waiting, the response form, the "Required actions" page, notifiers, ``assigned_users``, ``response_timeout`` and
``defaults`` are theirs. What this module adds:

- the facts of the video, read from what the save task (``EvoLinkToStorageOperator``) stored: its ``return_value``
  (the stored URIs) and the ``evolink_submission`` XCom of the generate task upstream of it (model, prompt,
  duration, credits; :mod:`airflow_provider_evolink.xcom`);
- a Markdown body (no raw HTML: Airflow drops it) with the poster, linked to the player, and those facts; its only
  links are the Airflow UI's own pages and the gallery's routes, http(s) or root-relative, never a stored URI;
- an optional ``comment`` field in the form (``params_input["comment"]``);
- the :data:`XCOM_REVIEW` record, which names the reviewed save task: the "EvoLink videos" tab of the review
  task plays that task's video, the gallery shows the review's state on its card (from Airflow's own HITL
  record), and a publishing task reads the files from it.

How the task waits differs by Airflow line (Airflow's operators handle it): 3.1 and 3.2 defer to Airflow's
``HITLTrigger`` (state ``deferred``, a triggerer must run); 3.3 parks the task in ``awaiting_input``.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLBranchOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

from airflow_provider_evolink.compat import AIRFLOW_V_3_2_PLUS, AirflowFailException, conf
from airflow_provider_evolink.xcom import XCOM_SUBMISSION

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

__all__ = [
    "APPROVE",
    "COMMENT",
    "REJECT",
    "XCOM_DECISION",
    "XCOM_REVIEW",
    "EvoLinkVideoReviewBranchOperator",
    "EvoLinkVideoReviewOperator",
    "decision_of",
    "review_body",
    "review_record",
]

#: XCom key of what the review task reviews (:func:`review_record`), pushed before it waits.
XCOM_REVIEW = "evolink_review"
#: XCom key of the reviewer's decision (:func:`decision_of`), pushed when the response arrives.
XCOM_DECISION = "evolink_review_decision"
#: The form field of the reviewer's optional comment (in the response's ``params_input``).
COMMENT = "comment"
#: The options a review offers, as Airflow's ``ApprovalOperator`` names them.
APPROVE = ApprovalOperator.APPROVE
REJECT = ApprovalOperator.REJECT
#: The UI route of the "EvoLink videos" task-instance tab (``plugins/gallery.py``), where the video plays.
PLAYER_ROUTE = "plugin/evolink-task-videos"
#: The gallery route that sends a review task's poster (``plugins/review_routes.py``).
POSTER_ROUTE = "evolink/api/review/poster"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def review_record(ti: Any, save_task: Any) -> dict[str, Any]:
    """What the review shows and a publishing task needs, read from the XComs of ``save_task``'s run::

        {"save_task_id": str, "save_map_index": int,   # the reviewed task instance (same DAG run)
         "files": [str, ...],                          # the stored URIs, the save task's return_value
         "evolink_task_id": str | None, "model": str | None, "prompt": str | None,
         "duration": int | None,                       # seconds asked for
         "credits": float | None}                      # credits reserved at submission

    No signed link is read or kept: stored URIs are the destination's own (``s3://``, ``file://``, ...).

    :param ti: the review's running task instance (``context["ti"]``).
    :param save_task: the ``EvoLinkToStorageOperator`` whose stored files are reviewed.
    :raises AirflowFailException: ``save_task`` stored no file in this run.
    """
    files = ti.xcom_pull(task_ids=save_task.task_id)
    if not isinstance(files, list) or not files or not all(isinstance(uri, str) for uri in files):
        raise AirflowFailException(
            f"save_task_id {save_task.task_id!r} stored no files in this run (its return_value is {files!r}): "
            "nothing to review"
        )
    submission = _submission_of(ti, save_task, files)
    usage = submission.get("usage")
    credits = usage.get("credits_reserved") if isinstance(usage, dict) else None
    return {
        "save_task_id": save_task.task_id,
        "save_map_index": -1,
        "files": files,
        "evolink_task_id": submission.get("evolink_task_id"),
        "model": submission.get("model"),
        "prompt": submission.get("prompt"),
        "duration": submission.get("duration"),
        "credits": credits,
    }


def _submission_of(ti: Any, save_task: Any, files: Sequence[str]) -> Mapping[str, Any]:
    """The submission summary of the EvoLink task whose results ``files`` are (they are named after its ID)."""
    upstream = sorted(save_task.upstream_task_ids)
    pulled = ti.xcom_pull(task_ids=upstream, key=XCOM_SUBMISSION) if upstream else None
    stem = posixpath.basename(files[0]).rsplit(".", 1)[0]
    for value in pulled if isinstance(pulled, list) else [pulled]:
        if not isinstance(value, dict):
            continue
        task_id = value.get("evolink_task_id")
        if isinstance(task_id, str) and (stem == task_id or stem.startswith(f"{task_id}_")):
            return value
    return {}


def review_body(record: Mapping[str, Any], *, player_url: str, poster_url: str, intro: str | None = None) -> str:
    """The HITL body (Markdown): the poster linked to the player, then the facts of ``record``.

    Every value from the record is escaped (a prompt cannot add links, images or HTML); stored URIs appear only
    as file names. ``player_url`` and ``poster_url`` must be http(s) or root-relative (:func:`review_links`).
    """
    facts = [
        ("Model", record.get("model")),
        ("Prompt", record.get("prompt")),
        ("Duration", f"{record['duration']} s" if isinstance(record.get("duration"), int) else None),
        ("Credits", record.get("credits")),
        ("Files", ", ".join(posixpath.basename(uri) for uri in record.get("files", []))),
        ("Stored by", record.get("save_task_id")),
    ]
    rows = [f"| {name} | {_escape(value)} |" for name, value in facts if value not in (None, "")]
    parts = [intro] if intro else []
    parts += [
        f"[![Poster of the video: open the player]({poster_url})]({player_url})",
        f"**[Play the video]({player_url})**, then approve or reject it below.",
        "| | |\n|---|---|\n" + "\n".join(rows),
    ]
    return "\n\n".join(parts)


def decision_of(event: Mapping[str, Any]) -> dict[str, Any]:
    """The reviewer's decision, read from Airflow's HITL response ``event`` (pushed as :data:`XCOM_DECISION`).

    Shape::

        {"chosen_options": [str, ...], "comment": str | None,
         "responded_by": str | None,   # the user's name; None when the timeout's defaults were taken
         "responded_at": str | None}   # ISO 8601
    """
    user = event.get("responded_by_user")
    when: Any = event.get("responded_at")
    params_input = event.get("params_input") or {}
    return {
        "chosen_options": list(event.get("chosen_options") or []),
        "comment": params_input.get(COMMENT),
        "responded_by": user.get("name") if isinstance(user, dict) else None,
        "responded_at": when.isoformat() if hasattr(when, "isoformat") else when,
    }


def _escape(value: Any) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def review_links(ti: Any) -> tuple[str, str]:
    """``(player_url, poster_url)`` of the review task instance ``ti``: its "EvoLink videos" tab in the Airflow
    UI and the gallery's poster route for it, under ``[api] base_url`` when that is an http(s) URL, else
    root-relative. The poster route redirects to the video's own authorized poster route."""
    base = str(conf.get("api", "base_url", fallback="") or "").rstrip("/")
    prefix = base if urlsplit(base).scheme in ("http", "https") else ""
    task = (
        f"{prefix}/dags/{quote(ti.dag_id, safe='')}/runs/{quote(ti.run_id, safe='')}/tasks/{quote(ti.task_id, safe='')}"
    )
    if ti.map_index >= 0:
        task += f"/mapped/{ti.map_index}"
    query = urlencode({"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index})
    return f"{task}/{PLAYER_ROUTE}", f"{prefix}/{POSTER_ROUTE}?{query}"


class _VideoReview:
    """What both review operators add to Airflow's HITL operator they extend (see the module docstring)."""

    save_task_id: str
    body: str | None
    log: Any

    def _review_kwargs(self, save_task_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(save_task_id, str) or not save_task_id:
            raise ValueError(
                f"save_task_id must name the EvoLinkToStorageOperator task to review, got {save_task_id!r}"
            )
        self.save_task_id = save_task_id
        # Kept a ParamsDict: Airflow has marked which params are the DAG's (the form leaves those out).
        params = kwargs.pop("params", None)
        params = params if isinstance(params, ParamsDict) else ParamsDict(params or {})
        if COMMENT not in params:
            comment = Param(
                None, type=["null", "string"], title="Comment", description="Optional: why, or what to change"
            )
            comment.source = "task"  # a form field of this task, not a DAG param
            params[COMMENT] = comment
        return {"subject": "Review the EvoLink video", **kwargs, "params": params}

    @property
    def serialized_params(self) -> dict[str, dict[str, Any]]:
        """The form's fields: this task's params (``comment`` and any given), never the DAG's."""
        fields: dict[str, dict[str, Any]] = super().serialized_params  # type: ignore[misc]
        if AIRFLOW_V_3_2_PLUS:  # Airflow leaves the DAG's params out itself (Param.source)
            return fields
        # Not needed from Airflow 3.2: 3.1 merges the DAG's params into every task's, without marking them.
        dag_params = self.dag.params if self.has_dag() else {}  # type: ignore[attr-defined]
        return {name: field for name, field in fields.items() if name == COMMENT or name not in dag_params}

    def execute(self, context: Context) -> Any:
        """Read what the save task stored, push :data:`XCOM_REVIEW`, write the body, then wait as Airflow's
        HITL operator does.

        :raises AirflowFailException: ``save_task_id`` is not in the DAG or stored no file in this run.
        """
        ti = context["ti"]
        dag = context["dag"]
        if not dag.has_task(self.save_task_id):
            raise AirflowFailException(f"save_task_id {self.save_task_id!r} is not a task of DAG {dag.dag_id!r}")
        record = review_record(ti, dag.get_task(self.save_task_id))
        ti.xcom_push(key=XCOM_REVIEW, value=record)
        player_url, poster_url = review_links(ti)
        self.body = review_body(record, player_url=player_url, poster_url=poster_url, intro=self.body)
        self.log.info("Asking for a review of %s (model %s)", ", ".join(record["files"]), record["model"])
        return super().execute(context)  # type: ignore[misc]

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Push the decision (:data:`XCOM_DECISION`), then go on as Airflow's HITL operator does (branch, skip)."""
        if "error" not in event:
            context["ti"].xcom_push(key=XCOM_DECISION, value=decision_of(event))
        return super().execute_complete(context, event)  # type: ignore[misc]


class EvoLinkVideoReviewOperator(_VideoReview, ApprovalOperator):
    """
    Ask reviewer(s) to approve or reject a video an ``EvoLinkToStorageOperator`` stored, with an optional comment.

    Airflow's ``ApprovalOperator`` with the video's facts as its body (:func:`review_body`): "Approve" lets the
    downstream tasks run, "Reject" skips them (``ignore_downstream_trigger_rules``, ``fail_on_reject`` as there).
    The reviewer plays the video on the task's "EvoLink videos" tab; the form is Airflow's "Required actions".
    The return value is Airflow's response (``chosen_options``, ``params_input`` with ``comment``,
    ``responded_by_user``, ``responded_at``); :data:`XCOM_REVIEW` holds what was reviewed.

    :param save_task_id: the task ID of the ``EvoLinkToStorageOperator`` (same DAG, unmapped) whose files are
        reviewed; make it upstream of this task.
    :param subject: the form's headline (templated).
    :param body: Markdown shown above the video's facts (templated).
    :param params: extra form fields (a ``comment`` field is added unless given).
    :param kwargs: everything Airflow's ``ApprovalOperator`` takes: ``assigned_users``, ``notifiers``,
        ``response_timeout`` (a ``timedelta``), ``defaults`` (taken when it expires), ``fail_on_reject``, ...
    :raises ValueError: at construction, an empty ``save_task_id``, or what ``ApprovalOperator`` refuses.
    """

    def __init__(self, *, save_task_id: str, **kwargs: Any) -> None:
        super().__init__(**self._review_kwargs(save_task_id, kwargs))


class EvoLinkVideoReviewBranchOperator(_VideoReview, HITLBranchOperator):
    """
    The branching review: the reviewer's choice picks the downstream task that runs (Airflow's
    ``HITLBranchOperator``), e.g. ``{"Approve": "publish", "Reject": "mark_rejected"}``; the others are skipped.

    :param save_task_id: as in :class:`EvoLinkVideoReviewOperator`.
    :param options_mapping: option → downstream task ID to run when it is chosen.
    :param options: the choices, ``["Approve", "Reject"]`` by default (the gallery shows "approved" and
        "rejected" for these two, any other chosen option by its name).
    :param kwargs: as :class:`EvoLinkVideoReviewOperator` (``subject``, ``body``, ``params``,
        ``assigned_users``, ``notifiers``, ``response_timeout``, ``defaults``, ...).
    :raises ValueError: at construction, an empty ``save_task_id``, or what ``HITLBranchOperator`` refuses (a
        mapping key that is not an option, ...).
    """

    def __init__(
        self,
        *,
        save_task_id: str,
        options_mapping: dict[str, str],
        options: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs = self._review_kwargs(save_task_id, kwargs)
        super().__init__(options=options or [APPROVE, REJECT], options_mapping=options_mapping, **kwargs)
