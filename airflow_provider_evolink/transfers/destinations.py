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

import fsspec
from airflow.sdk.io.fs import has_fs

from airflow_provider_evolink.exceptions import EvoLinkConfigError

__all__ = ["DESTINATION_PATTERN", "check_destination", "is_template"]

#: JSON-schema ``pattern`` of a usable destination for a DAG ``Param`` (the UI refuses a run that breaks it):
#: a URI with a scheme followed by at least one character, or an absolute path. Whether the scheme's package is
#: installed is checked when the save task starts.
DESTINATION_PATTERN = r"^\s*([A-Za-z][A-Za-z0-9+.-]*://\S|/).*$"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


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
