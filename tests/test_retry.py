"""The one retry policy (``airflow_provider_evolink/retry.py``): which errors, how long, when to stop; the sync and
async loops follow the same rules. Waits are recorded instead of slept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fakes import VirtualTime

from airflow_provider_evolink.exceptions import (
    EvoLinkAuthenticationError,
    EvoLinkConfigError,
    EvoLinkError,
    EvoLinkRateLimitError,
    EvoLinkResponseError,
    EvoLinkResultHostError,
    EvoLinkServerError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.retry import RetryPolicy, is_retryable


@pytest.fixture
def waits(virtual_time: VirtualTime) -> list[float]:
    """The retry waits, recorded instead of slept."""
    return virtual_time.waits


def failing(errors: list[BaseException], result: str = "ok") -> Callable[[], str]:
    """An attempt that raises ``errors`` one per call, then returns ``result``; counts its calls."""

    def attempt() -> str:
        attempt.calls += 1  # type: ignore[attr-defined]
        if errors:
            raise errors.pop(0)
        return result

    attempt.calls = 0  # type: ignore[attr-defined]
    return attempt


@pytest.mark.parametrize(
    ("error", "method", "expected"),
    [
        (EvoLinkTransportError("cut"), "POST", True),
        (EvoLinkRateLimitError(429), "POST", True),
        (EvoLinkServerError(503), "GET", True),
        (EvoLinkServerError(501), "GET", False),
        (EvoLinkResponseError("garbled"), "GET", True),
        (EvoLinkResponseError("garbled"), "POST", False),  # the task may exist: never re-POST here
        (EvoLinkAuthenticationError(401), "GET", False),
        (EvoLinkConfigError("bad"), "GET", False),
        (EvoLinkResultHostError("cdn 503", status_code=503, retryable=True), "GET", True),
        (ValueError("not ours"), "GET", False),
    ],
)
def test_which_errors_are_retried(error: BaseException, method: str, expected: bool) -> None:
    assert is_retryable(error, method) is expected


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(max_wait=10.0)
    assert policy.backoff(1, EvoLinkRateLimitError(429, retry_after=4.0)) == 4.0
    assert policy.backoff(1, EvoLinkRateLimitError(429, retry_after=3600.0)) == 10.0
    assert policy.backoff(1, EvoLinkResultHostError("cdn", retryable=True, retry_after=0.0)) == 0.0


def test_backoff_without_retry_after_is_exponential_with_jitter_and_capped() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=5.0)
    for n, (low, high) in enumerate([(0.5, 1.0), (1.0, 1.5), (2.0, 2.5), (4.0, 4.5), (5.0, 5.0)], start=1):
        samples = {policy.backoff(n, EvoLinkServerError(500)) for _ in range(20)}
        assert all(low <= wait <= high for wait in samples), (n, samples)
    assert len({policy.backoff(1) for _ in range(20)}) > 1  # jitter: triggers created together drift apart


def test_sync_loop_retries_then_returns(waits: list[float]) -> None:
    attempt = failing([EvoLinkServerError(502), EvoLinkTransportError("cut")])
    assert RetryPolicy(max_retries=2).call(attempt) == "ok"
    assert attempt.calls == 3  # type: ignore[attr-defined]
    assert len(waits) == 2


def test_sync_loop_stops_after_max_retries_with_the_last_error(waits: list[float]) -> None:
    last = EvoLinkServerError(503, message="still down")
    attempt = failing([EvoLinkServerError(503), EvoLinkServerError(503), last])
    with pytest.raises(EvoLinkServerError) as excinfo:
        RetryPolicy(max_retries=2).call(attempt)
    assert excinfo.value is last
    assert len(waits) == 2


@pytest.mark.parametrize("error", [EvoLinkAuthenticationError(401), EvoLinkConfigError("bad"), EvoLinkError("x")])
def test_sync_loop_never_retries_what_cannot_succeed(waits: list[float], error: EvoLinkError) -> None:
    attempt = failing([error])
    with pytest.raises(type(error)):
        RetryPolicy(max_retries=5).call(attempt)
    assert (attempt.calls, waits) == (1, [])  # type: ignore[attr-defined]


def test_sync_loop_reports_a_garbled_answer_to_a_create_instead_of_reposting(waits: list[float]) -> None:
    attempt = failing([EvoLinkResponseError("garbled")])
    with pytest.raises(EvoLinkResponseError):
        RetryPolicy(max_retries=5).call(attempt, method="POST")
    assert attempt.calls == 1  # type: ignore[attr-defined]


async def test_async_loop_follows_the_same_policy(waits: list[float]) -> None:
    errors: list[BaseException] = [EvoLinkRateLimitError(429, retry_after=2.0), EvoLinkServerError(500)]
    sync_attempt = failing(list(errors))

    async def attempt() -> Any:
        return sync_attempt()

    assert await RetryPolicy(max_retries=2, max_wait=1.0).acall(attempt) == "ok"
    assert waits[0] == 1.0  # Retry-After 2 s capped at max_wait
    with pytest.raises(EvoLinkAuthenticationError):
        await RetryPolicy(max_retries=2).acall(_raises(EvoLinkAuthenticationError(401)))
    assert len(waits) == 2


def _raises(error: BaseException) -> Callable[[], Any]:
    async def attempt() -> Any:
        raise error

    return attempt
