"""
Which storage destinations can work, known before anything is paid for.

A destination is a folder URI (``s3://[conn_id@]bucket/prefix``, ``gs://…``, ``file:///abs/path``, ``memory://…``)
or an absolute local path. Refused: no scheme and not absolute (``"not a uri"`` would become a folder in the
worker's working directory), a scheme no filesystem implements, and a store whose filesystem package is not
installed. Checked at three points: a literal when the DAG is parsed (``EvoLinkToStorageOperator(...)``), a DAG
``Param`` at trigger time (:data:`DESTINATION_PATTERN`), and the rendered value at the start of the save task
(with the checks that need I/O: a destination that is a file).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import fsspec
from airflow.sdk.io.fs import has_fs

from airflow_provider_evolink.exceptions import EvoLinkConfigError

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

__all__ = [
    "DESTINATION_PATTERN",
    "DestinationTask",
    "check_destination",
    "check_destinations_downstream",
    "is_template",
]

#: JSON-schema ``pattern`` of a usable destination for a DAG ``Param`` (the UI refuses a run that breaks it):
#: a URI with a scheme followed by at least one character, or an absolute path. Whether the scheme's package is
#: installed is checked when the save task starts.
DESTINATION_PATTERN = r"^\s*([A-Za-z][A-Za-z0-9+.-]*://\S|/).*$"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


class DestinationTask:
    """Marks a task whose ``destination`` (templated) is checked before an upstream video is paid for
    (:func:`check_destinations_downstream`): ``EvoLinkToStorageOperator``. A marker, so that the generate operator
    finds save tasks without importing the transfer."""

    destination: Any


def is_template(value: object) -> bool:
    """Whether ``value`` is a Jinja template (rendered later, checked then)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_destination(value: str) -> None:
    """Refuse a destination URI or path that cannot work, without any I/O.

    :raises EvoLinkConfigError: empty; no scheme and not an absolute path; an unknown scheme; a scheme whose
        filesystem package is not installed. The message names ``destination`` and the rule.
    """
    text = value.strip()
    if not text:
        raise EvoLinkConfigError("destination must be a folder URI or an absolute path, got an empty string")
    match = _SCHEME.match(text)
    if match is None:
        if not text.startswith("/"):
            raise EvoLinkConfigError(
                f"destination {value!r} has no scheme and is not an absolute path: give a folder URI such as "
                "s3://bucket/prefix or file:///data/videos, or an absolute path"
            )
        return
    scheme = match.group(1).lower()
    # ObjectStoragePath resolves a scheme through Airflow's provider filesystems, then fsspec's registry.
    in_fsspec = scheme in fsspec.available_protocols()
    if not in_fsspec and not has_fs(scheme):
        raise EvoLinkConfigError(
            f"destination {value!r} has an unknown scheme {scheme!r}: no installed storage understands it"
        )
    try:
        if in_fsspec:
            fsspec.get_filesystem_class(scheme)
    except ImportError as error:
        raise EvoLinkConfigError(
            f"destination {value!r} needs a package that is not installed for {scheme!r}: {error}"
        ) from None


def check_destinations_downstream(task: BaseOperator, context: Context) -> None:
    """Before a video is paid for: render the ``destination`` of every :class:`DestinationTask`
    (``EvoLinkToStorageOperator``) downstream of ``task`` (plain or mapped) with ``task``'s context, and refuse one that
    cannot work.

    A destination that reads XCom or another task instance cannot be known yet and is left to the save task,
    as is one that does not render here.

    :raises EvoLinkConfigError: a rendered destination that cannot work (:func:`check_destination`), naming the
        save task.
    """
    for relative in task.get_flat_relatives(upstream=False):
        value = _known_destination(relative)
        rendered = None if value is None else _rendered(task, value, context)
        if rendered is None:
            continue
        try:
            check_destination(rendered)
        except EvoLinkConfigError as error:
            raise EvoLinkConfigError(f"task {relative.task_id!r} could not store the video: {error}") from None


def _known_destination(task: Any) -> str | None:
    """The ``destination`` template of a save task, plain or mapped (its ``partial`` value); ``None`` for another
    kind of task, or a value only the save task itself can know."""
    operator_class = getattr(task, "operator_class", None)
    if isinstance(task, DestinationTask):
        value = task.destination
    elif isinstance(operator_class, type) and issubclass(operator_class, DestinationTask):
        value = task.partial_kwargs.get("destination")
    else:
        return None
    if not isinstance(value, str) or any(part in value for part in _NOT_KNOWN_YET):
        return None
    return value


def _rendered(task: BaseOperator, value: str, context: Context) -> str | None:
    try:
        return str(task.render_template(value, context))
    except Exception as error:  # e.g. a Variable that does not exist yet: the save task will say
        task.log.info("The destination %r does not render before the save task runs (%s): checked then", value, error)
        return None


#: Template fragments whose value only the save task knows (XCom, its own task instance).
_NOT_KNOWN_YET = ("xcom", "task_instance", "ti.task_id", "ti.try_number")
