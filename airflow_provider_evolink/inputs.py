"""
Media inputs from anywhere: object-storage URIs and local files become links EvoLink can fetch.

EvoLink fetches every media input of a request (``video_url``, ``image_urls``, …) from a publicly reachable URL
when the task starts (``airflow_provider_evolink/api_reference/evolink-api.md``, "Media inputs"). A request may instead
name:

- an object-storage URI that ``ObjectStoragePath`` opens (``s3://[conn_id@]bucket/key``, ``gs://…``, ``abfs://…``)
  or an ``ObjectStoragePath``: signed with ``ObjectStoragePath.sign(expiration=…)`` into a time-limited HTTPS link;
  a store that cannot sign (``NotImplementedError``) is uploaded instead;
- a local file (``file://`` URI or absolute path on the worker): uploaded through EvoLink's files API
  (``EvoLinkHook.upload_file``; public for 72 h, one file of a small per-account quota).

:func:`resolve_inputs` first checks every source (exists, is a file, its type and size allowed by its field, and,
for what must be uploaded, by the files API), naming the field and the URI, before anything is uploaded; then signs
or uploads each distinct source once, however many fields use it. Links it makes are secrets: masked in logs and
kept out of XCom, trigger rows, events and exception text.

A retry that replays a stored ``Idempotency-Key`` must send the body EvoLink saw first, links included: the
operator stores it with :func:`seal`, encrypted with a key derived from the EvoLink API key, so reading it takes
the API key, and nothing short of it (the task state store is not encrypted).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.exceptions import EvoLinkInputError
from airflow_provider_evolink.hooks.files import SNIFF_BYTES, as_location, media_type
from airflow_provider_evolink.models.media import MediaField, input_kind, media_fields
from airflow_provider_evolink.models.requests import (
    KLING_O3_REFERENCE_TO_VIDEO,
    KLING_V3_MOTION_CONTROL,
    EvoLinkRequest,
)

if TYPE_CHECKING:
    from airflow_provider_evolink.hooks.evolink import EvoLinkHook

__all__ = [
    "ResolvedInputs",
    "resolve_inputs",
    "seal",
    "unseal",
]


MB = 1024 * 1024
#: What the files API accepts (``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API (inputs)": the
#: union of the documents).
_UPLOAD_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/", "audio/")
_MAX_UPLOAD_BYTES = 100 * MB


@dataclass(frozen=True)
class _Rule:
    """What a media field takes: types (``"video/"`` = any video) and a size cap in bytes (``None``: no cap)."""

    types: tuple[str, ...]
    max_bytes: int | None
    label: str

    def allows(self, kind: str) -> bool:
        return any(kind == allowed or (allowed.endswith("/") and kind.startswith(allowed)) for allowed in self.types)


#: Type and size rules of each model's media fields (``airflow_provider_evolink/api_reference/evolink-api.md``, "Media
#: inputs").
_RULES: dict[tuple[str | None, str], _Rule] = {
    (KLING_O3_REFERENCE_TO_VIDEO, "video"): _Rule(("video/mp4", "video/quicktime"), 200 * MB, "an MP4 or MOV video"),
    (KLING_O3_REFERENCE_TO_VIDEO, "image"): _Rule(
        ("image/jpeg", "image/png", "image/webp"), 10 * MB, "a JPEG, PNG or WebP image"
    ),
    (KLING_V3_MOTION_CONTROL, "image"): _Rule(("image/jpeg", "image/png"), 10 * MB, "a JPEG or PNG image"),
    (KLING_V3_MOTION_CONTROL, "video"): _Rule(("video/",), None, "a video"),
    (None, "media"): _Rule(("image/", "video/", "audio/"), None, "an image, video or audio file"),
}


@dataclass(frozen=True)
class ResolvedInputs:
    """A request ready to send: ``body`` (its JSON, with links in place of URIs and paths), the ``links`` it
    carries that are secrets (signed or uploaded), and how many were ``signed`` and ``uploaded``."""

    body: dict[str, Any]
    links: tuple[str, ...] = field(default=(), repr=False)
    signed: int = 0
    uploaded: int = 0


@dataclass
class _Source:
    """One distinct input source, the fields that use it, and what was learned about it."""

    reference: str
    fields: list[MediaField]
    location: Any = None
    media_type: str = ""
    size: int = 0
    link: str | None = field(default=None, repr=False)


def resolve_inputs(request: EvoLinkRequest, hook: EvoLinkHook, *, expiration: int) -> ResolvedInputs:
    """Turn every object-storage URI and local file of ``request`` into a link EvoLink can fetch.

    Every source is checked first (exists, is a file; type and size allowed by each field using it; within the
    files API's types and 100 MB when it must be uploaded); only then are sources signed
    (``ObjectStoragePath.sign(expiration=expiration)``) or uploaded (``hook.upload_file``), each once. Public
    ``http(s)`` URLs are sent as they are.

    :param expiration: seconds a signed link stays valid.
    :return: the body to send and the links to keep secret (already masked in task logs).
    :raises EvoLinkInputError: a source is missing, unreadable, or breaks its field's rules (field and URI named);
        nothing was uploaded.
    :raises EvoLinkUploadError: the files API refused an upload (quota used up, type refused).
    """
    from airflow.sdk.log import mask_secret

    body = request.to_api_json()
    sources: dict[str, _Source] = {}
    for item in media_fields(request):
        if (kind := input_kind(item.value)) != "url":
            # One local file named as a path and as a file:// URI is still one source.
            key = as_location(item.value).resolve().as_uri() if kind == "local" else item.value
            sources.setdefault(key, _Source(item.value, [])).fields.append(item)
    if not sources:
        return ResolvedInputs(body)
    for source in sources.values():
        _inspect(source, request.model)
    for source in sources.values():
        source.link = _sign(source, expiration)
        if source.link is None:
            _check_uploadable(source)
    signed = sum(source.link is not None for source in sources.values())
    links: list[str] = []
    for source in sources.values():
        link = source.link or hook.upload_file(source.location).file_url
        mask_secret(link)
        links.append(link)
        for item in source.fields:
            _put(body, item.loc, link)
    return ResolvedInputs(body, tuple(links), signed=signed, uploaded=len(sources) - signed)


def _inspect(source: _Source, model: str) -> None:
    """Existence, size and type of a source, checked against the rules of every field using it."""
    first = source.fields[0].name
    source.location = as_location(source.reference)
    try:
        if not source.location.is_file():
            raise EvoLinkInputError(f"{first}: {source.reference} does not exist (or is not a file)")
        source.size = int(source.location.stat().st_size)
        with source.location.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError as error:
        raise EvoLinkInputError(f"{first}: {source.reference} cannot be read ({type(error).__name__})") from None
    source.media_type = media_type(head, source.location.name)
    for item in source.fields:
        rule = _RULES.get((model, item.kind)) or _RULES[(None, "media")]
        if not rule.allows(source.media_type):
            raise EvoLinkInputError(
                f"{item.name}: {source.reference} is {source.media_type}, but this field takes {rule.label}"
            )
        if rule.max_bytes is not None and source.size > rule.max_bytes:
            raise EvoLinkInputError(
                f"{item.name}: {source.reference} is {source.size:,} bytes, over this field's "
                f"{rule.max_bytes // MB} MB limit"
            )


def _sign(source: _Source, expiration: int) -> str | None:
    """A signed HTTPS link to an object, or ``None`` when it must be uploaded (a local file, or a store that
    cannot sign). Signing is a local computation: it makes nothing public until the link is handed out."""
    if not hasattr(source.location, "sign"):
        return None
    try:
        link = source.location.sign(expiration=expiration)
    except NotImplementedError:
        return None
    return link if isinstance(link, str) and link.startswith(("https://", "http://")) else None


def _check_uploadable(source: _Source) -> None:
    name = source.fields[0].name
    if not _Rule(_UPLOAD_TYPES, None, "").allows(source.media_type):
        raise EvoLinkInputError(
            f"{name}: {source.reference} is {source.media_type}, which EvoLink's files API does not take "
            "(JPEG, PNG, GIF, WebP, video or audio)"
        )
    if source.size > _MAX_UPLOAD_BYTES:
        raise EvoLinkInputError(
            f"{name}: {source.reference} is {source.size:,} bytes; EvoLink's files API takes at most "
            f"{_MAX_UPLOAD_BYTES // MB} MB: put it in object storage that can sign links (S3, GCS, Azure) instead"
        )


def _put(body: Any, loc: tuple[str | int, ...], value: str) -> None:
    for part in loc[:-1]:
        body = body[part]
    body[loc[-1]] = value


# ------------------------------------------------------------------ the resolved request across retries
def _fernet(api_key: str) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"airflow-provider-evolink/inputs/v1")
    return Fernet(base64.urlsafe_b64encode(derived.derive(api_key.encode())))


def seal(resolved: ResolvedInputs, api_key: str) -> str:
    """``resolved`` encrypted (Fernet) with a key derived from ``api_key``: safe to keep in the task state store."""
    payload = {"body": resolved.body, "links": list(resolved.links)}
    return str(_fernet(api_key).encrypt(json.dumps(payload).encode()).decode())


def unseal(token: str, api_key: str) -> ResolvedInputs | None:
    """What :func:`seal` stored, its links masked in task logs again; ``None`` if it cannot be read with this
    ``api_key`` (the key changed) or was altered."""
    from airflow.sdk.log import mask_secret
    from cryptography.fernet import InvalidToken

    try:
        payload = json.loads(_fernet(api_key).decrypt(token.encode()))
    except (InvalidToken, ValueError, TypeError):
        return None
    links = tuple(str(link) for link in payload.get("links", ()))
    for link in links:
        mask_secret(link)
    return ResolvedInputs(payload["body"], links)
