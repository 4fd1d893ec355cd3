"""
Media input references of a create request: what a reference names (a public URL, an object-storage URI, a local
file) and where a request's media inputs sit in its JSON.

Source: the ``*_url`` / ``*_urls`` fields of the model documents in ``airflow_provider_evolink/api_reference/openapi/``
and ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Media inputs").
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
import os
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

from airflow_provider_evolink.models.field_errors import fail_at, field_name

__all__ = [
    "InputKind",
    "MediaField",
    "MediaKind",
    "MediaUrl",
    "as_reference",
    "extra_reference",
    "has_unresolved_inputs",
    "input_kind",
    "media_fields",
]


def _http_url(value: str) -> str:
    """An absolute ``http(s)`` URL (``format: uri`` in the OpenAPI files). Reachability is the server's job."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


#: Kinds of media input reference (see :func:`input_kind`).
InputKind = Literal["url", "object", "local"]


def input_kind(value: str) -> InputKind:
    """What a media input reference names: ``url`` (a public ``http(s)`` URL, sent as is), ``object`` (an
    object-storage URI that ``ObjectStoragePath`` opens: ``s3://[conn_id@]bucket/key``, ``gs://…``, ``abfs://…``)
    or ``local`` (a ``file://`` URI or an absolute path on the worker).

    :raises ValueError: a relative path, an unknown scheme or an ``http(s)`` URL without a host.
    """
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        _http_url(value)
        return "url"
    if scheme == "file" or (not scheme and value.startswith("/")):
        if not (parts.path if scheme else value).startswith("/"):
            raise ValueError("a file:// URI must name an absolute path (file:///folder/name.mp4)")
        return "local"
    if not scheme:
        raise ValueError(
            "must be an http(s) URL, an object-storage URI (s3://, gs://, abfs://…) or an absolute local path "
            "(a relative path is ambiguous on a worker)"
        )
    # Imported here: fsspec costs a tenth of a second, which DAG files that only use public URLs never pay.
    import fsspec

    if scheme not in fsspec.available_protocols() or not parts.netloc:
        raise ValueError(
            f"unknown scheme {scheme!r}: use an http(s) URL, an object-storage URI that ObjectStoragePath opens "
            "(s3://[conn_id@]bucket/key, gs://…, abfs://…), a file:// URI or an absolute local path"
        )
    return "object"


def as_reference(value: Any) -> Any:
    """An ``ObjectStoragePath`` becomes its URI (``str()`` keeps its ``conn_id``), a ``pathlib`` path its string;
    anything else is left for the string check."""
    if hasattr(value, "protocol") and hasattr(value, "storage_options"):  # a UPath: ObjectStoragePath and kin
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _media_reference(value: str) -> str:
    input_kind(value)
    return value


#: What a media field takes: ``video``, ``image``, or ``media`` (any of image, video, audio; generic fields).
MediaKind = Literal["video", "image", "media"]
#: A media input field: a public http(s) URL, an object-storage URI / ``ObjectStoragePath``, or a local file.
MediaUrl = Annotated[str, BeforeValidator(as_reference), AfterValidator(_media_reference)]


def extra_reference(title: str, loc: tuple[str | int, ...], value: Any) -> str:
    """An extra media field's value checked like :data:`MediaUrl`, the error located at ``loc``."""
    field = field_name(loc)
    value = as_reference(value)
    if not isinstance(value, str):
        fail_at(
            title, loc, "media_url", f"{field} must be a string (a URL, URI or absolute path)", type(value).__name__
        )
    try:
        input_kind(value)
    except ValueError as error:
        fail_at(title, loc, "media_url", f"{field}: {error}", value)
    return value


class _HasMediaInputs(Protocol):
    """What :func:`media_fields` reads of a request (:class:`~airflow_provider_evolink.models.EvoLinkRequest`)."""

    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], "MediaKind"], ...]]

    def to_api_json(self) -> dict[str, Any]: ...


class MediaField(NamedTuple):  # a NamedTuple: a fifth of the cost of a dataclass to define, paid by DAG parsing
    """One media input of a request: where it is (``loc`` in the JSON), what it names, and its kind.

    ``kind`` is ``video`` or ``image`` for the documented fields of the modelled models, ``media`` for a field
    found by the generic ``*_url`` / ``*_urls`` rule (any image, video or audio).
    """

    loc: tuple[str | int, ...]
    value: str
    kind: "MediaKind"

    @property
    def name(self) -> str:
        """The field as a user writes it, e.g. ``video_urls[0]``."""
        return field_name(self.loc)


def media_fields(request: _HasMediaInputs) -> list[MediaField]:
    """Every media input of a validated request: the model's documented media fields, then any other top-level
    string field ending in ``_url`` (``callback_url`` excepted) or list of strings ending in ``_urls``."""
    body = request.to_api_json()
    found: list[MediaField] = []
    for pattern, kind in request.media_inputs:
        found += [MediaField(loc, value, kind) for loc, value in _walk(body, pattern, ())]
    documented = {pattern[0] for pattern, _ in request.media_inputs}
    for name, value in body.items():
        if name in documented or name == "callback_url":
            continue
        if name.endswith("_url") and isinstance(value, str):
            found.append(MediaField((name,), value, "media"))
        elif name.endswith("_urls") and isinstance(value, list):
            found += [MediaField((name, i), item, "media") for i, item in enumerate(value) if isinstance(item, str)]
    return found


def has_unresolved_inputs(request: _HasMediaInputs) -> bool:
    """Whether any media input of ``request`` is an object-storage URI or a local file (not yet a link)."""
    return any(input_kind(item.value) != "url" for item in media_fields(request))


_Loc = tuple[str | int, ...]


def _walk(node: Any, pattern: tuple[str, ...], loc: _Loc) -> Iterator[tuple[_Loc, str]]:
    if not pattern:
        if isinstance(node, str):
            yield loc, node
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*" and isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, rest, (*loc, index))
    elif isinstance(node, dict) and node.get(head) is not None:
        yield from _walk(node[head], rest, (*loc, head))
