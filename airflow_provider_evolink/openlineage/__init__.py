"""
OpenLineage names of what EvoLink tasks read and write, cheap to import (standard library only).

The facets themselves are built in :mod:`airflow_provider_evolink.openlineage.facets`, which imports the
OpenLineage provider (extra ``[openlineage]``) and is only imported by the operators'
``get_openlineage_facets_on_complete``, i.e. by the provider's listener: without the provider, nothing from
OpenLineage is ever imported.

Names follow the OpenLineage naming spec (namespace = ``scheme://authority``, name = path), mapped the way
Airflow's own providers map the same URIs::

    s3://[conn_id@]bucket/key       → s3://bucket                       key
    gs://, gcs://[conn_id@]bucket/k → gs://bucket                       k
    abfs://[conn_id@]container/p    → abfs://container                  p      (any other object store alike)
    file:///path, /path             → file                              /path
    https://user@host:port/p?sig=…  → https://host:port                 /p

An Airflow connection ID riding in an object-store URI, user info, query strings and fragments never reach a
name: the query string is what makes a link signed, and signed links never go into lineage.
"""

from __future__ import annotations

import os
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DatasetName", "dataset_name", "public_location"]

#: Schemes named by host and port; any other scheme's authority is a bucket or container.
_WEB_SCHEMES = frozenset({"http", "https"})
#: ``gcs://`` is spelled ``gs://`` in lineage.
_SCHEME_ALIASES = {"gcs": "gs"}


class DatasetName(NamedTuple):
    """An OpenLineage dataset identifier: ``namespace`` (``scheme://authority`` or ``file``) and ``name``."""

    namespace: str
    name: str


def dataset_name(location: str | os.PathLike[str]) -> DatasetName | None:
    """The OpenLineage name of a location (mapping in the module docstring); ``None`` if it names nothing.

    :param location: an absolute local path, a ``file://`` URI, an object-store URI (``s3://``, ``gs://``,
        ``abfs://``, …, optionally with an Airflow connection ID as ``conn_id@``), an ``http(s)://`` URL, or an
        object with ``__fspath__`` / ``__str__`` giving one (an ``ObjectStoragePath``).
    """
    text = os.fspath(location) if isinstance(location, os.PathLike) else str(location)
    text = text.strip()
    if text.startswith("/"):
        return DatasetName("file", text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    if not scheme:
        return None
    if scheme == "file":
        host = parts.hostname or ""
        return DatasetName(f"file://{host}" if host not in ("", "localhost") else "file", parts.path or "/")
    # The part after "@" only: before it sit user info (web) or an Airflow connection ID (object stores).
    host = parts.netloc.rpartition("@")[2]
    if scheme in _WEB_SCHEMES:
        if not parts.hostname:
            return None
        return DatasetName(f"{scheme}://{_authority(parts.hostname, port)}", parts.path or "/")
    if not host:
        return None
    return DatasetName(f"{scheme}://{host}", parts.path.lstrip("/") or "/")


def public_location(url: str) -> str:
    """``url`` without user info, query string or fragment: ``scheme://host[:port]/path``.

    The form a signed link (an EvoLink result URL, a presigned input) may be kept in: what it points at, without
    what grants access to it. A URL that cannot be parsed becomes ``""``.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    return urlunsplit((parts.scheme.lower(), _authority(parts.hostname or "", port), parts.path, "", ""))


def _authority(hostname: str, port: int | None) -> str:
    """``host[:port]``, an IPv6 address in brackets (``urlsplit`` gives it without them)."""
    host = f"[{hostname}]" if ":" in hostname else hostname
    return host + (f":{port}" if port is not None else "")
