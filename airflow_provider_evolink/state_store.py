"""
Where ``EvoLinkGenerateVideoOperator`` keeps its submission across the tries of one task instance, on every Airflow.

- Airflow 3.3+: ``context["task_state_store"]`` (rows scoped to the task instance, kept by Airflow).
- Airflow 3.1/3.2 (no ``task_state_store``): one JSON document per task instance that survives a retry and a
  SIGKILL of the task process, because every write is finished before the call returns:

  - a file ``<[evolink] state_store_path>/<digest>.json`` in object storage, when that option is set;
  - else an Airflow Variable ``evolink_submission_<digest>``, written through the Task SDK (the execution API).

Trade-offs, cleanup and settings: ``docs/state-store.md``. Either store offers the calls ``SubmissionState``
makes: ``get``, ``set``, ``delete`` and ``clear``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_evolink.compat import AIRFLOW_V_3_3_PLUS, AirflowFailException, conf

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "VARIABLE_PREFIX",
    "StateStore",
    "StateStoreUnavailable",
    "submission_store",
    "usable_submission_store",
]

#: Prefix of the Variable keys below Airflow 3.3 when ``state_store_path`` is not set.
VARIABLE_PREFIX = "evolink_submission_"

log = logging.getLogger(__name__)


class StateStore(Protocol):
    """The calls ``SubmissionState`` makes on ``task_state_store`` (values are plain JSON)."""

    def get(self, key: str) -> Any:
        """The value stored under ``key``, ``None`` when there is none."""

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``; stored for good when the call returns."""

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it is not stored)."""

    def clear(self) -> None:
        """Forget every key of this task instance."""


class StateStoreUnavailable(Exception):
    """The store of this Airflow could not be read: nothing an earlier try stored can be found."""


class _DocumentStore:
    """A :class:`StateStore` kept as one JSON object, read once and rewritten whole on every change."""

    #: The store as a log line names it.
    where = "the submission store"

    def __init__(self) -> None:
        try:
            self._values = self._read()
        except Exception as error:
            raise StateStoreUnavailable(f"{self.where} cannot be read ({type(error).__name__}: {error})") from None

    def _read(self) -> dict[str, Any]:
        raise NotImplementedError

    def _write(self, document: dict[str, Any]) -> None:
        raise NotImplementedError

    def _remove(self) -> None:
        raise NotImplementedError

    def get(self, key: str) -> Any:
        return self._values.get(key)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value
        self._write(self._values)

    def delete(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            self._write(self._values)

    def clear(self) -> None:
        self._values = {}
        self._remove()


def _scope(context: Context) -> tuple[str, dict[str, Any]]:
    """A digest naming the task instance (its IDs can be long and hold any character), and the IDs themselves."""
    ti = context["ti"]
    ids = {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index}
    digest = hashlib.sha256(json.dumps(ids, sort_keys=True).encode()).hexdigest()[:32]
    return digest, ids


class _VariableStore(_DocumentStore):
    """One Airflow Variable per task instance, its value ``{"task_instance": ids, "values": {...}}``."""

    def __init__(self, context: Context) -> None:
        digest, self._ids = _scope(context)
        self._key = VARIABLE_PREFIX + digest
        self.where = f"Variable {self._key}"
        super().__init__()

    def _read(self) -> dict[str, Any]:
        from airflow.sdk import Variable

        stored = Variable.get(self._key, default=None, deserialize_json=True)
        return dict(stored.get("values", {})) if isinstance(stored, dict) else {}

    def _write(self, document: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        description = "EvoLink submission of {dag_id} / {run_id} / {task_id} / map index {map_index}".format(
            **self._ids
        )
        value = {"task_instance": self._ids, "values": document}
        Variable.set(self._key, value, description=description, serialize_json=True)
        # Airflow 3.1/3.2's Variable.set logs a failed write and returns: read it back, so the POST never follows one.
        if self._read() != document:
            raise StateStoreUnavailable(f"{self.where} could not be written (Airflow's log above says why)")

    def _remove(self) -> None:
        from airflow.sdk import Variable

        Variable.delete(self._key)


class _FileStore(_DocumentStore):
    """One JSON file per task instance in the ``[evolink] state_store_path`` folder (any object storage)."""

    def __init__(self, context: Context, folder: str) -> None:
        from airflow.sdk import ObjectStoragePath

        digest, self._ids = _scope(context)
        self._path = ObjectStoragePath(folder.rstrip("/")) / f"{digest}.json"
        self.where = f"{self._path}"
        super().__init__()

    def _read(self) -> dict[str, Any]:
        if not self._path.exists():
            return {}
        stored = json.loads(self._path.read_text())
        return dict(stored.get("values", {})) if isinstance(stored, dict) else {}

    def _write(self, document: dict[str, Any]) -> None:
        self._path.write_text(json.dumps({"task_instance": self._ids, "values": document}))

    def _remove(self) -> None:
        if self._path.exists():
            self._path.unlink()


def submission_store(context: Context) -> StateStore | None:
    """The store of this task instance's submission: the context's ``task_state_store`` (Airflow 3.3+), else below
    Airflow 3.3 the file folder ``[evolink] state_store_path`` when set, else a Variable. ``None`` when there is
    none (3.3 without ``task_state_store``, or a context without a task instance).

    :raises StateStoreUnavailable: the store below Airflow 3.3 cannot be read (the message names it).
    """
    if (store := context.get("task_state_store")) is not None or AIRFLOW_V_3_3_PLUS or context.get("ti") is None:
        return store
    folder = conf.get("evolink", "state_store_path", fallback="") or ""
    return _FileStore(context, folder) if folder.strip() else _VariableStore(context)


def earlier_try_may_have_paid(ti: Any, first_try: int | None) -> bool:
    """Whether a try of the current try sequence ran before this one (and may have created a paid task).

    :param ti: the context's task instance (its ``try_number``).
    :param first_try: the sequence's first try number (``never_pay_twice.try_sequence``); ``None``: unknown.
    """
    try_number = getattr(ti, "try_number", None)
    if first_try is None or isinstance(try_number, bool) or not isinstance(try_number, int):
        return False
    return try_number > first_try


def no_store_message(reason: str) -> str:
    """Why a retry refuses to submit again: no store could find what an earlier try submitted (names the setting)."""
    return (
        f"{reason}, and an earlier try of this task instance may have created (and paid for) an EvoLink task that "
        f"nothing can find again: not submitting a second one. On Airflow 3.1/3.2 the submission is kept in a "
        f"Variable, or under [evolink] state_store_path when set: make that store usable "
        "(docs/state-store.md), then Clear the task instance to generate anew"
    )


def usable_submission_store(context: Context, sequence: int | None, log: Any) -> StateStore | None:
    """This task instance's submission store; ``None`` (said in ``log``) when there is none, unless an earlier try
    may have paid: then nothing finds that task again and submitting would pay twice, so it fails.

    :param sequence: the try sequence's first try number (``never_pay_twice.try_sequence``).
    :raises AirflowFailException: no usable store on a retry of the same try sequence.
    """
    try:
        store = submission_store(context)
        reason = "No submission store is available in this context (task_state_store)"
    except StateStoreUnavailable as error:
        store, reason = None, f"The submission store is unusable: {error}"
    if store is not None:
        return store
    if earlier_try_may_have_paid(context.get("ti"), sequence):
        raise AirflowFailException(no_store_message(reason))
    log.warning(
        "%s: crash recovery is off for this try (a retry cannot reconnect to its EvoLink task, and refuses "
        "to submit a new one)",
        reason,
    )
    return None
