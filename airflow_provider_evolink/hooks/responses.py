"""
Reading EvoLink's answers: a 2xx body into a model, anything else into an exception, never echoing a secret.

API reference: ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Errors and retries"); the error envelope is
the ``ErrorResponse`` schema of ``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml``: ``{"error": {"code",
"message", "type", "param"}}``.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx
import pydantic

from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkResponseError,
    EvoLinkTransportError,
    api_error_for_status,
)

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import Credits, TaskDetail

__all__ = [
    "api_error",
    "parse_credits",
    "parse_model",
    "parse_retry_after",
    "request_id",
    "scrub",
    "task_parser",
    "transport_error",
    "unreadable",
]

_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")
_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced by ``***``: a server or library may echo the key into a message."""
    return text.replace(secret, "***") if secret and secret in text else text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date, never negative), or ``None``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def request_id(response: httpx.Response) -> str | None:
    """The ``x-request-id`` (or ``x-oneapi-request-id``) header: what EvoLink support asks for."""
    for name in _REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return value
    return None


def api_error(response: httpx.Response, secret: str | None = None) -> EvoLinkAPIError:
    """One :class:`EvoLinkAPIError` subclass for any non-2xx answer, the error envelope or not (e.g. a proxy's
    HTML page); ``secret`` is scrubbed from every field taken from the body."""
    from airflow_provider_evolink.models.responses import ApiErrorBody

    error_class = api_error_for_status(response.status_code)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        detail = ApiErrorBody.model_validate_json(response.content).error
    except (pydantic.ValidationError, ValueError):
        content_type = response.headers.get("content-type", "unknown content type").split(";")[0]
        return error_class(
            response.status_code,
            message=(
                f"HTTP {response.status_code} {response.reason_phrase or ''} with a body that is not the "
                f"EvoLink error envelope ({content_type}, {len(response.content)} bytes): perhaps a proxy error"
            ).replace("  ", " "),
            request_id=request_id(response),
            retry_after=retry_after,
        )

    def clean(value: str | None) -> str | None:
        return None if value is None else scrub(value, secret)

    return error_class(
        response.status_code,
        code=clean(detail.code),
        message=clean(detail.message),
        type=clean(detail.type),
        param=clean(detail.param),
        request_id=request_id(response),
        retry_after=retry_after,
    )


def parse_model(model: type[_ModelT], response: httpx.Response) -> _ModelT:
    """Validate a 2xx body into ``model`` in one pass.

    :raises EvoLinkResponseError: the body does not match; the message lists fields and rules, never values
        (a task detail carries signed result URLs).
    """
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        raise EvoLinkResponseError(
            f"unexpected answer to {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}, {len(response.content)} bytes): {problems}",
            request_id=request_id(response),
        ) from None


def transport_error(method: str, path: str, error: BaseException, secret: str) -> EvoLinkTransportError:
    """No answer to ``method path`` (connect error, timeout, dropped connection)."""
    detail = scrub(str(error), secret) or "no detail"
    return EvoLinkTransportError(f"{method} {path}: no answer from EvoLink ({type(error).__name__}: {detail})")


def unreadable(method: str, path: str, error: BaseException, secret: str) -> EvoLinkResponseError:
    """An answer httpx could not decode (e.g. an unknown content encoding)."""
    detail = scrub(str(error), secret) or "no detail"
    return EvoLinkResponseError(f"{method} {path}: unreadable answer ({type(error).__name__}: {detail})")


def task_parser(evolink_task_id: str) -> Callable[[httpx.Response], TaskDetail]:
    """Parse a task detail and check it describes the task asked for: a proxy or cache mixing up answers must
    not end a wait, or start a download, with another task's detail."""
    from airflow_provider_evolink.models.responses import TaskDetail

    expected = evolink_task_id.strip()

    def parse(response: httpx.Response) -> TaskDetail:
        detail = parse_model(TaskDetail, response)
        if detail.id != expected:
            raise EvoLinkResponseError(
                f"asked EvoLink for task {expected} but got task {detail.id[:80]!r}",
                request_id=request_id(response),
            )
        return detail

    return parse


def parse_credits(response: httpx.Response) -> Credits:
    """The balances of a ``GET /v1/credits`` answer; :class:`EvoLinkResponseError` for ``success: false``."""
    from airflow_provider_evolink.models.responses import CreditsResponse

    envelope = parse_model(CreditsResponse, response)
    if not envelope.success or envelope.data is None:
        reason = envelope.failure_reason
        raise EvoLinkResponseError(
            "GET /v1/credits answered success: false" + (f": {reason}" if reason else ""),
            request_id=request_id(response),
        )
    return envelope.data
