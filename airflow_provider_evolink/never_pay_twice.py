"""
Never paying twice: what ``EvoLinkGenerateVideoOperator`` remembers across the tries of one task instance, when it
forgets it, and what a retry does with it: reconnect, replay or pay again.

The decision of a retry, from the stored submission of the same request and try sequence::

    a task ID stored, the task pending, processing or completed ──▶ reconnect (:func:`reconnects_to`): wait for it
    a task ID stored, the task failed, cancelled or gone (404)  ──▶ pay again with a new key (failed tasks are
                                                                    refunded; replaying the key returns the same task)
    a key stored but no task ID (the try died after its POST?)  ──▶ replay: the same key and body, so EvoLink returns
                                                                    the first task if that POST got through
    nothing stored, another request, or another try sequence    ──▶ pay: a new key, stored before the POST

The lifecycle (``context["task_state_store"]``, Airflow 3.3; rows are scoped to one DAG run, task and map index)::

    try starts ─▶ the stored submission belongs to another try sequence (a manual Clear started a new one)?
                   └─ yes: forget it all, this sequence generates anew
    before the POST: {"idempotency_key", "request_sha256", "try_sequence",
                      "sealed_request" (only when inputs were signed or uploaded)}  (STATE_SUBMISSION)
    after the POST:  the EvoLink task ID                                     (STATE_TASK_ID)
                     the create answer's ``usage`` (credits reserved)        (STATE_USAGE)
    success: nothing is cleared — a kill between "done" and Airflow recording success must find the task again

A *try sequence* is what Airflow starts with a DAG run or a manual Clear and continues with automatic retries:
its first try number is ``ti.max_tries - task.retries + 1``, the same number Airflow uses to find the first try
of a sensor's reschedules. Automatic retries keep it; a Clear raises ``max_tries`` past every earlier try, so it
changes. Keying the stored submission by it, instead of clearing the store inside ``execute``, leaves no moment in
which a killed try has forgotten a paid task: no sequence of kills, retries and restarts of one task instance
pays twice, and a Clear still generates anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
    from airflow.sdk.execution_time.context import TaskStateStoreAccessor

__all__ = [
    "RECONNECTABLE",
    "STATE_SUBMISSION",
    "STATE_TASK_ID",
    "STATE_USAGE",
    "SubmissionState",
    "reconnects_to",
    "request_fingerprint",
    "stored_usage",
    "try_sequence",
]

#: ``task_state_store`` key of ``{"idempotency_key", "request_sha256", "try_sequence", "sealed_request"?}``, written
#: before the POST. ``request_sha256`` hashes the request as the user wrote it (URIs, not the links made for them);
#: ``sealed_request`` is the body sent, encrypted with a key derived from the API key, when inputs were resolved.
STATE_SUBMISSION = "submission"
#: ``task_state_store`` key of the EvoLink task ID, written right after the POST.
STATE_TASK_ID = "created_task_id"
#: ``task_state_store`` key of the create answer's ``usage`` (a JSON dict: credits reserved, billing rule), written
#: with the task ID: only the create answer carries it, and the completed-detail XCom reports it after a deferral.
STATE_USAGE = "reserved_usage"

#: States of a stored task a retry reconnects to: still going, or already done (paying again would buy it twice).
RECONNECTABLE = frozenset({TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED})

log = logging.getLogger(__name__)


def reconnects_to(status: TaskStatus) -> bool:
    """Whether a retry reconnects to the stored task in ``status``, rather than forgetting it
    (:meth:`SubmissionState.forget_task`) and paying again with a new key (as when EvoLink no longer knows it)."""
    return status in RECONNECTABLE


def request_fingerprint(body: dict[str, Any]) -> str:
    """sha256 hex digest of a request's API JSON with sorted keys: tells a changed request from a retried one."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def stored_usage(store: TaskStateStoreAccessor | None) -> dict[str, Any] | None:
    """The ``usage`` stored with the EvoLink task the current submission created, if any."""
    usage = store.get(STATE_USAGE) if store is not None else None
    return usage if isinstance(usage, dict) else None


def try_sequence(ti: Any, retries: int | None) -> int | None:
    """The first try number of the task instance's current try sequence, ``None`` if ``ti`` does not say.

    :param ti: the context's task instance (its ``max_tries``).
    :param retries: the operator's ``retries``.
    """
    max_tries = getattr(ti, "max_tries", None)
    if isinstance(max_tries, bool) or not isinstance(max_tries, int):
        return None
    return max_tries - (retries or 0) + 1


class SubmissionState:
    """The stored submission of one task instance, for one request and try sequence.

    :param store: ``context["task_state_store"]``, or ``None`` (nothing is remembered: a retry submits again).
    :param request_sha256: :func:`request_fingerprint` of the request about to be submitted.
    :param sequence: :func:`try_sequence` of the running try (``None``: any stored sequence is taken as this one,
        so an unknown context never pays twice).
    """

    def __init__(self, store: TaskStateStoreAccessor | None, request_sha256: str, sequence: int | None) -> None:
        self._store = store
        self._request_sha256 = request_sha256
        self._sequence = sequence
        self._submission: dict[str, Any] | None = None
        if store is not None:
            stored = store.get(STATE_SUBMISSION)
            self._submission = stored if isinstance(stored, dict) else None
            self._forget_other_sequence()

    def _forget_other_sequence(self) -> None:
        stored = self._submission
        if stored is None or self._sequence is None or stored.get("try_sequence") in (None, self._sequence):
            return
        assert self._store is not None
        log.info(
            "The stored EvoLink submission belongs to try sequence %s, this try starts sequence %s (the task "
            "instance was cleared): forgetting it and generating anew",
            stored.get("try_sequence"),
            self._sequence,
        )
        self._store.clear()
        self._submission = None

    @property
    def _same_request(self) -> bool:
        stored = self._submission
        return (
            stored is not None
            and stored.get("request_sha256") == self._request_sha256
            and isinstance(stored.get("idempotency_key"), str)
        )

    def stored_task_id(self) -> str | None:
        """The EvoLink task an earlier try of this sequence submitted for this request, if it got that far."""
        if self._store is None or not self._same_request:
            return None
        stored_id = self._store.get(STATE_TASK_ID)
        return stored_id if isinstance(stored_id, str) and stored_id else None

    def replayable(self) -> tuple[str, str | None] | None:
        """``(Idempotency-Key, sealed request)`` of an earlier try of this request that may have been sent without
        its task ID being stored: the retry sends the same key with the same body, so EvoLink replays that task.
        The sealed request (:func:`airflow_provider_evolink.inputs.seal`) is ``None`` when the body sent was the
        request itself (no input was signed or uploaded). ``None`` when there is nothing to replay."""
        if not self._same_request or self.stored_task_id() is not None:
            return None
        assert self._submission is not None
        key = str(self._submission["idempotency_key"])
        sealed = self._submission.get("sealed_request")
        log.info(
            "An earlier try stored Idempotency-Key %s but no task ID (it may have stopped right after its POST): "
            "submitting the same body with the same key, so EvoLink replays that task if it exists",
            key,
        )
        return key, sealed if isinstance(sealed, str) else None

    def new_key(self, sealed_request: str | None = None) -> str:
        """A new Idempotency-Key for the next POST, stored before it is used together with ``sealed_request`` (the
        body about to be sent, sealed, when its inputs were signed or uploaded: a replay must send it again)."""
        if self._submission is not None and not self._same_request:
            log.warning("The request changed since an earlier try submitted it: submitting it as a new task")
        key = str(uuid.uuid4())
        self._submission = {"idempotency_key": key, "request_sha256": self._request_sha256}
        if sealed_request is not None:
            self._submission["sealed_request"] = sealed_request
        if self._sequence is not None:
            self._submission["try_sequence"] = self._sequence
        if self._store is not None:
            # Before the POST: a try that dies after the POST still leaves the key (and body) to replay with.
            self._forget_stored_task()
            self._store.set(STATE_SUBMISSION, self._submission)
        return key

    def forget_task(self) -> None:
        """The stored task is over (failed, cancelled or gone): the next POST gets a new key, since replaying the
        old one would only return that task again (failed tasks are refunded)."""
        self._submission = None
        if self._store is not None:
            self._forget_stored_task()

    def _forget_stored_task(self) -> None:
        assert self._store is not None
        self._store.delete(STATE_TASK_ID)
        self._store.delete(STATE_USAGE)

    def submitted(self, evolink_task_id: str, usage: dict[str, Any] | None = None) -> None:
        """Remember the EvoLink task the POST created (or replayed), and the ``usage`` its answer carried."""
        if self._store is not None:
            self._store.set(STATE_TASK_ID, evolink_task_id)
            if usage is not None:
                self._store.set(STATE_USAGE, usage)
