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
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DatasetName", "dataset_name", "media_locations", "public_location"]

#: Schemes whose authority is a bucket or container; ``gcs`` is spelled ``gs`` in lineage.
_WEB_SCHEMES = frozenset({"http", "https"})
_SCHEME_ALIASES = {"gcs": "gs"}
#: Request fields holding media inputs besides the ``*_url``/``*_urls`` ones (O3's ``video`` alternative).
_MEDIA_FIELDS = frozenset({"video", "image_start", "image_end"})
#: A ``*_url`` field that is not an input: EvoLink calls it back.
_NOT_MEDIA_FIELDS = frozenset({"callback_url"})


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


def media_locations(request: Any) -> list[str]:
    """The media inputs named in a create request (dict form), in order, each once.

    Media fields are those named ``*_url`` (but not ``callback_url``), lists named ``*_urls``, and O3's
    ``video``, at any depth (``elements[].frontal_image_url``, ``model_params`` …). Values may be strings or
    path objects (``ObjectStoragePath``); anything else is skipped.
    """
    found: dict[str, None] = {}
    _collect(request, found)
    return list(found)


def _collect(value: Any, found: dict[str, None]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_media_field(key):
                _add_locations(item, found)
            else:
                _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _add_locations(value: Any, found: dict[str, None]) -> None:
    from airflow.sdk import ObjectStoragePath

    for location in value if isinstance(value, list | tuple) else [value]:
        if isinstance(location, str | os.PathLike | ObjectStoragePath) and str(location).strip():
            found.setdefault(str(location).strip(), None)


def _is_media_field(key: Any) -> bool:
    if not isinstance(key, str) or key in _NOT_MEDIA_FIELDS:
        return False
    return key in _MEDIA_FIELDS or key.endswith(("_url", "_urls"))
