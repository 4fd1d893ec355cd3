"""The emulator's files API, served on its own port (EvoLink serves it on its own host, ``files-api.evolink.ai``).

Routes (``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API (inputs)"; Bearer auth on
``/api/v1/files/``):

- ``POST /api/v1/files/upload/stream``: ``multipart/form-data`` with ``file``; optional ``upload_path`` (or
  ``uploadPath``) and ``file_name`` (or ``fileName``).
- ``POST /api/v1/files/upload/base64``: JSON ``{"base64_data": <raw base64 or a data: URL>, ...}``.
- ``POST /api/v1/files/upload/url``: JSON ``{"file_url": <public http(s) URL>, ...}``; the emulator downloads it.
- ``GET /api/v1/files/quota``: ``used_files``, ``max_files``, ``remain_files``; ``DELETE /api/v1/files/{file_id}``.
- ``GET /api/v1/files/list?page=&pageSize=``: ``{"total", "files": [{"file_id", "file_name", "file_size",
  "upload_time"}]}``, the key's unexpired files, newest first; ``page`` from 1 (default 1), ``pageSize`` default 20.
- ``GET|HEAD /api/v1/files/download/{file_id}`` and ``GET|HEAD /<upload_path>/<file_name>`` (the ``file_url``):
  no auth, until the file expires (72 h after the upload by default), then 404.

Every upload answers HTTP 200 with ``{"success", "code", "msg", "data"}``. Refusals are ``success: false``:
``code`` 403 when the key's file quota is used up (expired and deleted files free their place), 400 for a type
outside the union the documents accept (JPEG, PNG, GIF, WebP images; any ``video/*`` or ``audio/*``), 413 over
100 MB. Files are kept in a temporary folder, streamed to and from disk.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from . import media
from .app import serve
from .errors import json_object

MB = 1024 * 1024
MAX_UPLOAD_BYTES = 100 * MB
DEFAULT_FILE_TTL_SECONDS = 72 * 3600
DEFAULT_FILE_QUOTA = 100
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_FOLDERS = {"image": "images", "video": "videos", "audio": "audios"}
_CHUNK = 1 << 20
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class StoredFile:
    """One uploaded file: who uploaded it (``owner``: the API key), where it is served, and until when."""

    file_id: str
    owner: str
    path: str  # "<upload_path>/<file_name>", as served on the files host
    original_name: str
    mime_type: str
    size: int
    uploaded_at: float
    expires_at: float
    disk: Path

    def json(self, base_url: str) -> dict[str, Any]:
        """The documented ``data`` of an upload answer."""
        upload_path, _, file_name = self.path.rpartition("/")
        return {
            "file_id": self.file_id,
            "file_name": file_name,
            "original_name": self.original_name,
            "file_size": self.size,
            "mime_type": self.mime_type,
            "upload_path": upload_path,
            "file_url": f"{base_url}/{quote(self.path)}",
            "download_url": f"{base_url}/api/v1/files/download/{self.file_id}",
            "upload_time": _iso(self.uploaded_at),
            "expires_at": _iso(self.expires_at),
        }


class FileStore:
    """Uploaded files of one emulator, on disk in a temporary folder removed by :meth:`close`.

    :param quota: files one API key may hold at once (expired and deleted files do not count).
    :param ttl_seconds: how long a file is served after its upload, in seconds (72 h like EvoLink).
    """

    def __init__(self, *, quota: int, ttl_seconds: float) -> None:
        self.quota = quota
        self.ttl_seconds = ttl_seconds
        self._folder = Path(tempfile.mkdtemp(prefix="evolink-emulator-files-"))
        self._files: dict[str, StoredFile] = {}

    def close(self) -> None:
        """Forget every file and remove the folder."""
        self._files.clear()
        shutil.rmtree(self._folder, ignore_errors=True)

    def live(self, owner: str | None, now: float) -> list[StoredFile]:
        """Unexpired files, of ``owner`` only unless ``None``."""
        return [f for f in self._files.values() if now < f.expires_at and owner in (None, f.owner)]

    def find(self, *, file_id: str | None = None, path: str | None = None, now: float) -> StoredFile | None:
        """An unexpired file by id or served path (the latest upload wins a path)."""
        matches = [f for f in self.live(None, now) if file_id in (None, f.file_id) and path in (None, f.path)]
        return max(matches, key=lambda f: f.uploaded_at, default=None)

    def delete(self, file_id: str, owner: str) -> bool:
        """Remove ``owner``'s file ``file_id``; ``False`` if there is no such file of theirs."""
        stored = self._files.get(file_id)
        if stored is None or stored.owner != owner:
            return False
        del self._files[file_id]
        stored.disk.unlink(missing_ok=True)
        return True

    def new_disk_file(self) -> tuple[Path, IO[bytes]]:
        """A new file in the folder, open for writing, for an upload's bytes (the caller closes it)."""
        self._folder.mkdir(exist_ok=True)  # close() removed it if the emulator was stopped and started again
        disk = self._folder / secrets.token_hex(8)
        return disk, disk.open("wb")

    def add(
        self, owner: str, disk: Path, *, name: str, mime_type: str, upload_path: str | None, file_name: str | None
    ) -> StoredFile:
        """Keep the upload written to ``disk``: served at ``<upload_path>/<file_name>`` (by default a folder per
        type and a unique name) until ``ttl_seconds`` from now."""
        now = time.time()
        file_id = f"file_{secrets.token_hex(6)}"
        folder = (upload_path or "").strip("/") or _FOLDERS.get(mime_type.partition("/")[0], "files")
        extension = mimetypes.guess_extension(mimetypes.types_map.get(Path(name).suffix, mime_type)) or ""
        stored_name = (file_name or "").strip("/") or f"{file_id}{Path(name).suffix or extension}"
        stored = StoredFile(
            file_id=file_id,
            owner=owner,
            path=f"{folder}/{stored_name}",
            original_name=name,
            mime_type=mime_type,
            size=disk.stat().st_size,
            uploaded_at=now,
            expires_at=now + self.ttl_seconds,
            disk=disk,
        )
        self._files[file_id] = stored
        return stored


def create_files_app(store: FileStore, *, api_keys: Collection[str]) -> FastAPI:
    """The files host app over ``store``; ``api_keys`` are the accepted Bearer tokens."""
    app = FastAPI(title="EvoLink emulator files API", docs_url=None, redoc_url=None, openapi_url=None)
    fetcher: list[httpx.AsyncClient] = []

    def owner(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() in api_keys else None

    def stored_answer(request: Request, stored: StoredFile) -> JSONResponse:
        return _answer(True, 200, "File uploaded successfully", stored.json(str(request.base_url).rstrip("/")))

    async def accept(
        request: Request,
        key: str,
        chunks: AsyncIterator[bytes],
        name: str,
        declared: str | None,
        fields: dict[str, Any],
    ) -> Response:
        """Quota, then the bytes to disk (size cap), then the type: one stored file or a ``success: false``."""
        if len(store.live(key, time.time())) >= store.quota:
            return _answer(
                False,
                403,
                f"File quota exceeded: {store.quota} files per key; files expire 72 h after "
                "upload or can be deleted (DELETE /api/v1/files/{file_id})",
            )
        disk, sink = store.new_disk_file()
        with sink:
            size, head = 0, b""
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    break
                head = head or chunk[:32]
                sink.write(chunk)
        if size > MAX_UPLOAD_BYTES:
            disk.unlink(missing_ok=True)
            return _answer(False, 413, f"File too large: at most {MAX_UPLOAD_BYTES // MB} MB")
        mime_type = _mime_type(head, declared, name)
        if mime_type not in _IMAGE_TYPES and not mime_type.startswith(("video/", "audio/")):
            disk.unlink(missing_ok=True)
            return _answer(False, 400, f"Unsupported file type: {mime_type} (JPEG, PNG, GIF, WebP, video or audio)")
        upload_path = fields.get("upload_path") or fields.get("uploadPath")
        file_name = fields.get("file_name") or fields.get("fileName")
        stored = store.add(
            key, disk, name=name, mime_type=mime_type, upload_path=_text(upload_path), file_name=_text(file_name)
        )
        return stored_answer(request, stored)

    @app.post("/api/v1/files/upload/stream")
    async def upload_stream(request: Request) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _answer(False, 400, "file is required (multipart/form-data field 'file')")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        return await accept(request, key, _read_upload(upload), upload.filename or "file", upload.content_type, fields)

    @app.post("/api/v1/files/upload/base64")
    async def upload_base64(request: Request) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        fields = await json_object(request) or {}
        data = fields.get("base64_data")
        if not isinstance(data, str) or not data:
            return _answer(False, 400, "base64_data is required")
        declared, _, payload = data.partition(";base64,") if data.startswith("data:") else ("", "", data)
        try:
            content = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return _answer(False, 400, "base64_data is not valid base64")
        name = _text(fields.get("file_name")) or "file"
        return await accept(request, key, _once(content), name, declared.removeprefix("data:") or None, fields)

    @app.post("/api/v1/files/upload/url")
    async def upload_url(request: Request) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        fields = await json_object(request) or {}
        url = fields.get("file_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _answer(False, 400, "file_url must be a public http(s) URL")
        if not fetcher:
            fetcher.append(httpx.AsyncClient(follow_redirects=True, timeout=30, trust_env=False))
        try:
            async with fetcher[0].stream("GET", url) as response:
                if not response.is_success:
                    return _answer(False, 400, f"file_url could not be downloaded (HTTP {response.status_code})")
                name = url.split("?")[0].rstrip("/").rpartition("/")[2] or "file"
                declared = response.headers.get("content-type")
                return await accept(request, key, response.aiter_bytes(_CHUNK), name, declared, fields)
        except httpx.HTTPError as error:
            return _answer(False, 400, f"file_url could not be downloaded ({type(error).__name__})")

    @app.get("/api/v1/files/quota")
    async def quota(request: Request) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        used = len(store.live(key, time.time()))
        data = {"used_files": used, "max_files": store.quota, "remain_files": max(store.quota - used, 0)}
        return _answer(True, 200, "ok", data)

    @app.get("/api/v1/files/list")
    async def list_files(request: Request) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        try:
            page = _whole_number(request, "page", 1)
            page_size = _whole_number(request, "pageSize", DEFAULT_PAGE_SIZE)
        except ValueError as error:
            return _answer(False, 400, str(error))
        files = sorted(store.live(key, time.time()), key=lambda stored: stored.uploaded_at, reverse=True)
        shown = files[(page - 1) * page_size : page * page_size]
        return _answer(True, 200, "ok", {"total": len(files), "files": [_listed(stored) for stored in shown]})

    @app.delete("/api/v1/files/{file_id}")
    async def delete(request: Request, file_id: str) -> Response:
        if (key := owner(request)) is None:
            return _unauthorized()
        if not store.delete(file_id, key):
            return _answer(False, 404, "File not found", status=404)
        return _answer(True, 200, "File deleted")

    @app.api_route("/api/v1/files/download/{file_id}", methods=["GET", "HEAD"])
    async def download(request: Request, file_id: str) -> Response:
        return _serve_stored(request, store.find(file_id=file_id, now=time.time()))

    @app.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def file_url(request: Request, path: str) -> Response:
        return _serve_stored(request, store.find(path=path, now=time.time()))

    return app


def _whole_number(request: Request, name: str, default: int) -> int:
    """Query parameter ``name`` as a whole number >= 1 (``default`` when absent).

    :raises ValueError: anything else, naming the parameter.
    """
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def _listed(stored: StoredFile) -> dict[str, Any]:
    """A file as the list answer shows it."""
    return {
        "file_id": stored.file_id,
        "file_name": stored.path.rpartition("/")[2],
        "file_size": stored.size,
        "upload_time": _iso(stored.uploaded_at),
    }


def _serve_stored(request: Request, stored: StoredFile | None) -> Response:
    if stored is None:
        return Response(status_code=404, content=b"Not Found (no such file, or it expired)")
    return serve(request, media.FileContent(stored.disk, stored.size, stored.mime_type))


def _answer(
    success: bool, code: int, msg: str, data: dict[str, Any] | None = None, *, status: int = 200
) -> JSONResponse:
    return JSONResponse({"success": success, "code": code, "msg": msg, "data": data}, status_code=status)


def _unauthorized() -> JSONResponse:
    return _answer(False, 401, "Invalid or missing API key: send 'Authorization: Bearer <API key>'", status=401)


async def _read_upload(upload: Any) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_CHUNK):
        yield chunk


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _mime_type(head: bytes, declared: str | None, name: str) -> str:
    """The file's type from its first bytes, else the declared type, else its name."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
