"""
Errors raised by the EvoLink provider.

The tree (``retryable`` says whether the same call may succeed later)::

    EvoLinkError                           base of everything this provider raises
    ├── EvoLinkConfigError                 bad connection / operator configuration (never retryable)
    ├── EvoLinkInputError                  a media input that cannot be used: missing object, a type or size
    │                                      its field refuses (names the field and URI; never retryable)
    ├── EvoLinkUploadError                 the files API answered ``success: false`` (quota used up, type
    │                                      refused): carries ``code`` and ``msg`` (never retryable)
    ├── EvoLinkResponseError               a 2xx answer the provider cannot understand (non-JSON,
    │                                      truncated, missing ``id``, ``success: false``); retryable
    │                                      (the hook re-reads a GET; a create is reported, not re-sent)
    ├── EvoLinkTransportError              connect error, read timeout, dropped connection; retryable
    ├── EvoLinkAPIError                    any non-2xx HTTP answer from the API
    │   ├── EvoLinkBadRequestError         400  invalid request / invalid task ID   (not retryable)
    │   ├── EvoLinkAuthenticationError     401  bad or expired API key             (not retryable)
    │   ├── EvoLinkInsufficientCreditsError 402 account / key / daily quota         (not retryable)
    │   ├── EvoLinkPermissionDeniedError   403  model access denied                 (not retryable)
    │   ├── EvoLinkNotFoundError           404  task not found                      (not retryable)
    │   ├── EvoLinkConflictError           409  idempotency key reused with another body (not retryable)
    │   ├── EvoLinkPayloadTooLargeError    413                                       (not retryable)
    │   ├── EvoLinkRateLimitError          429  honour ``retry_after``               (retryable)
    │   ├── EvoLinkServerError             5xx  (500/502/503/504 retryable, others not)
    │   └── (EvoLinkAPIError itself)       any other status (not retryable)
    ├── EvoLinkTaskFailedError             the task itself ended ``failed``/``cancelled``;
    │                                      ``retryable`` from its ``error.code``
    ├── EvoLinkTaskNotFinishedError        the task is still ``pending``/``processing`` (retryable: wait)
    └── EvoLinkResultHostError             a result (CDN) host refused a download: 403/404/410 = the
                                           link expired (not retryable), 408/429/5xx and no answer are
                                           retryable; never about the API key (result hosts never see it)

What Airflow does with each (fail now or retry): ``airflow_provider_evolink/airflow_errors.py``; how the
provider itself retries them: ``airflow_provider_evolink/retry.py``. Sources:
``airflow_provider_evolink/api_reference/evolink-api.md`` ("Errors and retries") and the ``ErrorResponse`` schema of
``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml``. Messages never contain the API key or result URLs.
"""

from __future__ import annotations

from airflow_provider_evolink.http_statuses import RETRYABLE_API_STATUSES

__all__ = [
    "NON_RETRYABLE_TASK_ERROR_CODES",
    "EvoLinkAPIError",
    "EvoLinkAuthenticationError",
    "EvoLinkBadRequestError",
    "EvoLinkConfigError",
    "EvoLinkConflictError",
    "EvoLinkError",
    "EvoLinkInputError",
    "EvoLinkInsufficientCreditsError",
    "EvoLinkNotFoundError",
    "EvoLinkPayloadTooLargeError",
    "EvoLinkPermissionDeniedError",
    "EvoLinkRateLimitError",
    "EvoLinkResponseError",
    "EvoLinkResultHostError",
    "EvoLinkServerError",
    "EvoLinkTaskFailedError",
    "EvoLinkTaskNotFinishedError",
    "EvoLinkTransportError",
    "EvoLinkUploadError",
    "api_error_for_status",
    "is_retryable_task_error",
]

#: Task-level ``error.code`` values that will fail again if resubmitted unchanged
#: (``airflow_provider_evolink/api_reference/evolink-api.md``).
NON_RETRYABLE_TASK_ERROR_CODES = frozenset(
    {
        "content_policy_violation",
        "invalid_parameters",
        "image_processing_error",
        "image_dimension_mismatch",
        "request_cancelled",
        "resource_not_found",
        "model_unavailable",
        "generation_failed_no_content",
    }
)


def is_retryable_task_error(code: str | None) -> bool:
    """Whether a failed task with this ``error.code`` may succeed when resubmitted.

    Known retryable codes → ``True``; known permanent codes → ``False``; a missing or unknown code
    is treated as retryable (``unknown_error`` is documented as retryable, and failed tasks are
    refunded, so a bounded resubmission is the safer default).
    """
    if code is None:
        return True
    return code not in NON_RETRYABLE_TASK_ERROR_CODES


class EvoLinkError(Exception):
    """Base class of every error this provider raises. ``retryable`` is ``False`` unless stated."""

    retryable: bool = False


class EvoLinkConfigError(EvoLinkError, ValueError):
    """The connection or an argument is unusable (missing API key, bad base URL, bad destination)."""


class EvoLinkInputError(EvoLinkError, ValueError):
    """A media input of a request cannot be used: the object or file does not exist, or its type or size breaks
    what the documents state for its field. The message names the field and the URI (never a signed link)."""


class EvoLinkUploadError(EvoLinkError):
    """EvoLink's files API refused an upload with HTTP 200 and ``success: false`` (e.g. the per-account file quota
    is used up, or the type is refused). Not retryable: the same upload gets the same answer until files expire
    (72 h) or are deleted.

    :param code: the answer's ``code``; :param msg: its ``msg``; :param request_id: ``x-request-id``, if any.
    """

    def __init__(self, code: str | None, msg: str | None, *, request_id: str | None = None) -> None:
        self.code = code
        self.msg = msg
        self.request_id = request_id
        text = f"EvoLink files API refused the upload [{code or 'no code'}]: {msg or 'no message'}"
        super().__init__(text + (f" (request ID {request_id})" if request_id else ""))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_upload_error, (self.code, self.msg, self.request_id))


def _rebuild_upload_error(code: str | None, msg: str | None, request_id: str | None) -> EvoLinkUploadError:
    return EvoLinkUploadError(code, msg, request_id=request_id)


class EvoLinkTransportError(EvoLinkError):
    """The request did not get an HTTP answer: connect error, timeout, dropped connection.

    Always ``retryable``; for a create request the outcome is unknown (the task may exist), which is
    why creates are only retried with the same ``Idempotency-Key``.
    """

    retryable = True


class EvoLinkResponseError(EvoLinkError):
    """A 2xx answer that does not match the API contract (non-JSON, truncated, ``success: false``).

    :param message: what was wrong, never the body itself beyond a short, secret-free excerpt.
    :param request_id: the ``x-request-id`` header, if any.
    """

    retryable = True

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id
        super().__init__(message + (f" (request ID {request_id})" if request_id else ""))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only constructor argument: rebuild with it, or the request ID would be lost.
        return (_rebuild_response_error, (type(self), self.message, self.request_id))


def _rebuild_response_error(
    cls: type[EvoLinkResponseError], message: str, request_id: str | None
) -> EvoLinkResponseError:
    return cls(message, request_id=request_id)


class EvoLinkAPIError(EvoLinkError):
    """A non-2xx answer from the EvoLink API.

    :param status_code: the HTTP status.
    :param code: ``error.code`` from the body (``None`` when the body was not the documented
        envelope, e.g. an HTML 502 from a proxy).
    :param message: ``error.message``, or a description of the unexpected body.
    :param type: ``error.type``.
    :param param: ``error.param`` (the offending field), if given.
    :param request_id: the ``x-request-id`` / ``x-oneapi-request-id`` header, if given.
    :param retry_after: seconds from a ``Retry-After`` header, if given (429/503).
    """

    def __init__(
        self,
        status_code: int,
        *,
        code: str | None = None,
        message: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message or "no error message"
        self.type = type
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(str(self))

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status_code in RETRYABLE_API_STATUSES

    def __str__(self) -> str:
        parts = [f"EvoLink API error {self.status_code}"]
        if self.code:
            parts.append(f" [{self.code}]")
        parts.append(f": {self.message}")
        if self.param:
            parts.append(f" (param: {self.param})")
        if self.request_id:
            parts.append(f" (request ID {self.request_id})")
        return "".join(parts)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only constructor: teach pickle (multiprocessing, Airflow's serde) to rebuild it.
        return (
            _rebuild_api_error,
            (
                type(self),
                self.status_code,
                {
                    "code": self.code,
                    "message": self.message,
                    "type": self.type,
                    "param": self.param,
                    "request_id": self.request_id,
                    "retry_after": self.retry_after,
                },
            ),
        )


def _rebuild_api_error(cls: type[EvoLinkAPIError], status_code: int, kwargs: dict) -> EvoLinkAPIError:
    return cls(status_code, **kwargs)


class EvoLinkBadRequestError(EvoLinkAPIError):
    """400: the request (or the task ID) is invalid. Fix the input; never retried."""


class EvoLinkAuthenticationError(EvoLinkAPIError):
    """401: the API key is missing, invalid or expired."""


class EvoLinkInsufficientCreditsError(EvoLinkAPIError):
    """402: not enough credits (account, per-key or per-key daily quota; see ``code``)."""


class EvoLinkPermissionDeniedError(EvoLinkAPIError):
    """403: the key may not use this model (``model_access_denied``) or read this task."""


class EvoLinkNotFoundError(EvoLinkAPIError):
    """404: no such task (``task_not_found``)."""


class EvoLinkConflictError(EvoLinkAPIError):
    """409: the ``Idempotency-Key`` was already used with a different body (``idempotency_conflict``)."""


class EvoLinkPayloadTooLargeError(EvoLinkAPIError):
    """413: the request body is too large."""


class EvoLinkRateLimitError(EvoLinkAPIError):
    """429: rate limited. Retryable; ``retry_after`` (seconds) says when, if the server said."""


class EvoLinkServerError(EvoLinkAPIError):
    """5xx: a server or gateway error. 500/502/503/504 are retryable."""


_STATUS_CLASSES: dict[int, type[EvoLinkAPIError]] = {
    400: EvoLinkBadRequestError,
    401: EvoLinkAuthenticationError,
    402: EvoLinkInsufficientCreditsError,
    403: EvoLinkPermissionDeniedError,
    404: EvoLinkNotFoundError,
    409: EvoLinkConflictError,
    413: EvoLinkPayloadTooLargeError,
    429: EvoLinkRateLimitError,
}


def api_error_for_status(status_code: int) -> type[EvoLinkAPIError]:
    """The :class:`EvoLinkAPIError` subclass for an HTTP status (5xx → :class:`EvoLinkServerError`)."""
    if status_code >= 500:
        return EvoLinkServerError
    return _STATUS_CLASSES.get(status_code, EvoLinkAPIError)


class EvoLinkTaskFailedError(EvoLinkError):
    """The EvoLink task ended ``failed`` (or ``cancelled``).

    :param evolink_task_id: the EvoLink task ID.
    :param status: ``failed`` or ``cancelled``.
    :param code: the task's ``error.code`` (``None`` if absent).
    :param message: the task's ``error.message``.
    """

    def __init__(
        self, evolink_task_id: str, *, status: str = "failed", code: str | None = None, message: str | None = None
    ) -> None:
        self.evolink_task_id = evolink_task_id
        self.status = status
        self.code = code
        self.message = message or "no error message"
        self.retryable = status == "failed" and is_retryable_task_error(code)
        super().__init__(
            f"EvoLink task {evolink_task_id} {status}"
            + (f" [{code}]" if code else "")
            + f": {self.message}"
            + (" (retryable)" if self.retryable else " (not retryable)")
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_task_failed,
            (self.evolink_task_id, self.status, self.code, self.message),
        )


def _rebuild_task_failed(
    evolink_task_id: str, status: str, code: str | None, message: str | None
) -> EvoLinkTaskFailedError:
    return EvoLinkTaskFailedError(evolink_task_id, status=status, code=code, message=message)


class EvoLinkTaskNotFinishedError(EvoLinkError):
    """The EvoLink task is still ``pending`` or ``processing`` where its results are needed. Retryable: it
    may be done by the next try (wait for it with ``EvoLinkTaskSensor`` first)."""

    retryable = True


class EvoLinkResultHostError(EvoLinkError):
    """A result (CDN) host did not deliver a result file.

    Result links are signed and short-lived, and result hosts never receive the API key: a 401/403 here says
    nothing about the key. The message never contains the signed URL.

    :param message: what happened, naming the result and the task.
    :param status_code: the host's HTTP status, ``None`` when there was no answer.
    :param retryable: whether another attempt may succeed (408/429/5xx and no answer: yes; an expired or
        withdrawn link, 403/404/410: no).
    :param retry_after: seconds from the host's ``Retry-After`` header, if given.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_result_host_error,
            (self.message, self.status_code, self.retryable, self.retry_after),
        )


def _rebuild_result_host_error(
    message: str, status_code: int | None, retryable: bool, retry_after: float | None
) -> EvoLinkResultHostError:
    return EvoLinkResultHostError(message, status_code=status_code, retryable=retryable, retry_after=retry_after)
