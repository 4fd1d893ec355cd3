"""The documented error envelopes the emulator answers with.

API routes use EvoLink's ``ErrorResponse`` (``*.openapi.yaml``): ``{"error": {"code", "message", "type",
"param"?}}``. Result links answer like the object store behind a CDN: an XML ``<Error>`` body.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def api_error(
    status: int,
    code: str,
    message: str,
    error_type: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An EvoLink API error: HTTP ``status`` with the ``{"error": {...}}`` envelope (``param`` only if given)."""
    error = {"code": code, "message": message, "type": error_type}
    if param is not None:
        error["param"] = param
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def invalid_request(param: str, message: str) -> JSONResponse:
    """400 ``invalid_request``: ``param`` names the offending field, ``message`` the rule it broke."""
    return api_error(400, "invalid_request", message, "invalid_request_error", param=param)


def cdn_error(status: int, code: str, message: str) -> Response:
    """A result-host error (403 expired/bad signature, 404, 416) as an object store would send it."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one (not JSON, or another JSON value)."""
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
