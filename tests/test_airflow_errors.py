"""The one mapping from an EvoLink error to "fail now" or "let Airflow retry" (``airflow_errors.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_evolink.airflow_errors import airflow_exception, fail_or_retry
from airflow_provider_evolink.compat import AirflowException, AirflowFailException
from airflow_provider_evolink.exceptions import (
    EvoLinkAuthenticationError,
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkInsufficientCreditsError,
    EvoLinkResultHostError,
    EvoLinkServerError,
    EvoLinkTaskNotFinishedError,
    EvoLinkTransportError,
)


@pytest.mark.parametrize(
    "error",
    [
        EvoLinkConfigError("destination 'x' is a file"),
        EvoLinkAuthenticationError(401, message="bad key"),
        EvoLinkInsufficientCreditsError(402),
        EvoLinkResultHostError("HTTP 410 from the result host", status_code=410),
        EvoLinkError("something no retry fixes"),
    ],
)
def test_errors_no_retry_can_fix_fail_now_with_their_message(error: EvoLinkError) -> None:
    with pytest.raises(AirflowFailException) as excinfo, fail_or_retry():
        raise error
    assert str(excinfo.value) == str(error)
    assert excinfo.value.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [
        EvoLinkTransportError("cut"),
        EvoLinkServerError(503),
        EvoLinkTaskNotFinishedError("still processing"),
        EvoLinkResultHostError("HTTP 503 from the result host", status_code=503, retryable=True),
    ],
)
def test_retryable_errors_pass_through_unchanged(error: EvoLinkError) -> None:
    with pytest.raises(type(error)) as excinfo, fail_or_retry():
        raise error
    assert excinfo.value is error


def test_other_exceptions_are_not_touched() -> None:
    with pytest.raises(KeyError), fail_or_retry():
        raise KeyError("x")


def test_events_map_by_their_retryable_flag() -> None:
    assert type(airflow_exception("m", retryable=True)) is AirflowException
    assert type(airflow_exception("m", retryable=False)) is AirflowFailException
