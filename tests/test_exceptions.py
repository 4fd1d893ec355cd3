"""The EvoLink error tree: classes per status, ``retryable``, messages and pickling
(``airflow_provider_evolink/api_reference/evolink-api.md``, "Errors and retries")."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_evolink.exceptions import (
    NON_RETRYABLE_TASK_ERROR_CODES,
    EvoLinkAPIError,
    EvoLinkAuthenticationError,
    EvoLinkBadRequestError,
    EvoLinkConfigError,
    EvoLinkConflictError,
    EvoLinkError,
    EvoLinkInsufficientCreditsError,
    EvoLinkNotFoundError,
    EvoLinkPayloadTooLargeError,
    EvoLinkPermissionDeniedError,
    EvoLinkRateLimitError,
    EvoLinkResponseError,
    EvoLinkResultHostError,
    EvoLinkServerError,
    EvoLinkTaskFailedError,
    EvoLinkTaskNotFinishedError,
    EvoLinkTransportError,
    api_error_for_status,
    is_retryable_task_error,
)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, EvoLinkBadRequestError, False),
        (401, EvoLinkAuthenticationError, False),
        (402, EvoLinkInsufficientCreditsError, False),
        (403, EvoLinkPermissionDeniedError, False),
        (404, EvoLinkNotFoundError, False),
        (409, EvoLinkConflictError, False),
        (413, EvoLinkPayloadTooLargeError, False),
        (422, EvoLinkAPIError, False),
        (429, EvoLinkRateLimitError, True),
        (500, EvoLinkServerError, True),
        (501, EvoLinkServerError, False),
        (502, EvoLinkServerError, True),
        (503, EvoLinkServerError, True),
        (504, EvoLinkServerError, True),
    ],
)
def test_each_status_has_its_class_and_retryability(status: int, cls: type[EvoLinkAPIError], retryable: bool) -> None:
    error = api_error_for_status(status)(status, code="c", message="m")
    assert type(error) is cls
    assert isinstance(error, EvoLinkAPIError | EvoLinkError)
    assert error.retryable is retryable


def test_api_error_message_names_status_code_param_and_request_id() -> None:
    error = EvoLinkBadRequestError(
        400, code="invalid_request", message="bad duration", type="invalid_request_error", param="duration",
        request_id="req-1",
    )  # fmt: skip
    assert str(error) == "EvoLink API error 400 [invalid_request]: bad duration (param: duration) (request ID req-1)"
    assert (error.status_code, error.code, error.type, error.param, error.request_id) == (
        400,
        "invalid_request",
        "invalid_request_error",
        "duration",
        "req-1",
    )


def test_api_error_without_a_message_says_so() -> None:
    assert str(EvoLinkServerError(502)) == "EvoLink API error 502: no error message"


@pytest.mark.parametrize(
    "error",
    [
        EvoLinkRateLimitError(429, code="rate_limit_exceeded", message="slow down", request_id="r", retry_after=3.0),
        EvoLinkResponseError("garbled", request_id="r2"),
        EvoLinkTransportError("GET /v1/credits: no answer"),
        EvoLinkConfigError("no API key"),
        EvoLinkTaskFailedError("task-unified-1", status="failed", code="upstream_error", message="boom"),
        EvoLinkResultHostError("HTTP 429 from the result host", status_code=429, retryable=True, retry_after=2.0),
        EvoLinkTaskNotFinishedError("task-unified-1 is processing"),
    ],
)
def test_errors_survive_pickling(error: EvoLinkError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.retryable == error.retryable
    assert vars(copy) == vars(error)


def test_transport_and_response_errors_are_retryable_config_errors_are_not() -> None:
    assert EvoLinkTransportError("x").retryable
    assert EvoLinkResponseError("x").retryable
    assert not EvoLinkConfigError("x").retryable
    assert isinstance(EvoLinkConfigError("x"), ValueError)


#: The task error codes EvoLink documents as worth a resubmission ("Task errors" in
#: airflow_provider_evolink/api_reference/evolink-api.md).
DOCUMENTED_RETRYABLE_CODES = (
    "generation_timeout",
    "quota_exceeded",
    "resource_exhausted",
    "service_error",
    "service_unavailable",
    "upstream_error",
    "unknown_error",
)


@pytest.mark.parametrize("code", DOCUMENTED_RETRYABLE_CODES)
def test_documented_retryable_task_codes_are_retryable(code: str) -> None:
    assert is_retryable_task_error(code)
    assert EvoLinkTaskFailedError("t", code=code).retryable


@pytest.mark.parametrize("code", sorted(NON_RETRYABLE_TASK_ERROR_CODES))
def test_documented_permanent_task_codes_are_not_retryable(code: str) -> None:
    assert not is_retryable_task_error(code)
    error = EvoLinkTaskFailedError("task-unified-9", code=code, message="no")
    assert not error.retryable
    assert str(error) == f"EvoLink task task-unified-9 failed [{code}]: no (not retryable)"


def test_missing_or_unknown_task_code_is_retryable_but_cancelled_is_not() -> None:
    assert is_retryable_task_error(None)
    assert is_retryable_task_error("brand_new_code")
    assert not EvoLinkTaskFailedError("t", status="cancelled").retryable
