"""
The provider's one retry policy: which failures are tried again, how long to wait between tries, and when to stop.

Every retry in the package reads :class:`RetryPolicy`: the hook's sync calls (workers), its async calls (the
triggerer) and the transfer's result downloads. The rules (API reference:
``airflow_provider_evolink/api_reference/evolink-api.md``, "Errors and retries"):

- **Which failures.** Retryable: no HTTP answer (:class:`~airflow_provider_evolink.exceptions.EvoLinkTransportError`),
  a 2xx body that cannot be read (``EvoLinkResponseError``; re-read on a GET, never re-sent on a POST: the task may
  exist and the caller resubmits with the same ``Idempotency-Key``), and the API statuses of
  ``http_statuses.RETRYABLE_API_STATUSES`` (429 and 5xx gateway/server failures).
  Everything else (400, 401, 402, 403, 404, 409, 413, a bad configuration) ends at once.
- **How long to wait.** The server's ``Retry-After`` when it sent one, else ``initial_wait * 2**(n-1)`` plus up to
  ``initial_wait`` of jitter for retry ``n``; both capped at ``max_wait`` seconds.
- **When to stop.** One call stops after ``max_retries`` retries (connection extra ``max_retries``). Waiting for a
  task and saving its results outlast an API outage instead: :class:`OutageTolerance` keeps going while failures
  have lasted less than ``outage_tolerance`` seconds (connection extra; defaults in ``defaults.py``), bounded by
  the wait's own deadline, and logs how long they have lasted. EvoLink keeps rendering meanwhile.

Why hand-written loops and not tenacity: tenacity builds its retry machinery per call, which cost a quarter of
the CPU of a trigger's poll (``benchmarks/trigger_scale.py``); the two loops below are a dozen lines each and read
the same policy object.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from airflow_provider_evolink.defaults import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_OUTAGE_TOLERANCE,
    MAX_RETRY_WAIT,
    RETRY_INITIAL_WAIT,
)
from airflow_provider_evolink.exceptions import EvoLinkError, EvoLinkResponseError

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_OUTAGE_TOLERANCE",
    "MAX_RETRY_WAIT",
    "RETRY_INITIAL_WAIT",
    "OutageTolerance",
    "RetryPolicy",
    "asleep",
    "is_retryable",
    "monotonic",
    "sleep",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def is_retryable(error: BaseException, method: str = "GET") -> bool:
    """Whether the same request may succeed if sent again.

    :param error: what the attempt raised; only :class:`EvoLinkError` can be retryable.
    :param method: the HTTP method: an unreadable 2xx answer to a ``POST`` means the task may exist, so it is
        reported (the caller resubmits with the same ``Idempotency-Key``) rather than re-sent here.
    """
    if not isinstance(error, EvoLinkError) or not error.retryable:
        return False
    return method == "GET" or not isinstance(error, EvoLinkResponseError)


class RetryPolicy(NamedTuple):  # a NamedTuple: a fifth of the cost of a dataclass to define, paid by DAG parsing
    """How one request is retried.

    :param max_retries: retries after the first attempt (≥ 0).
    :param initial_wait: seconds of the first backoff step, and the most jitter added to any step.
    :param max_wait: cap in seconds of any wait, including a server's ``Retry-After``.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_wait: float = RETRY_INITIAL_WAIT
    max_wait: float = MAX_RETRY_WAIT

    def backoff(self, retry_number: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) after ``error``.

        The error's ``retry_after`` (seconds, from a ``Retry-After`` header) when it has one, else
        ``initial_wait * 2**(n-1)`` plus up to ``initial_wait`` of jitter; capped at ``max_wait``.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_wait)
        step = self.initial_wait * 2 ** (retry_number - 1)
        return min(step + random.uniform(0, self.initial_wait), self.max_wait)

    def call(self, attempt: Callable[[], _T], *, method: str = "GET") -> _T:
        """Run ``attempt`` until it returns, raises something not retryable, or the retries are spent.

        :raises EvoLinkError: the last error once no retry is left (or the first one not retryable).
        """
        retry_number = 1
        while True:
            try:
                return attempt()
            except EvoLinkError as error:
                wait = self._next_wait(error, retry_number, method)
            sleep(wait)
            retry_number += 1

    async def acall(self, attempt: Callable[[], Awaitable[_T]], *, method: str = "GET") -> _T:
        """:meth:`call` for coroutines: the same rules, waits with ``asyncio.sleep``."""
        retry_number = 1
        while True:
            try:
                return await attempt()
            except EvoLinkError as error:
                wait = self._next_wait(error, retry_number, method)
            await asleep(wait)
            retry_number += 1

    def _next_wait(self, error: EvoLinkError, retry_number: int, method: str) -> float:
        """The wait before retry ``retry_number``; re-raises ``error`` when there is none."""
        if retry_number > self.max_retries or not is_retryable(error, method):
            raise error
        wait = self.backoff(retry_number, error)
        log.warning("EvoLink request failed (%s); retry %d in %.1f s", error, retry_number, wait)
        return wait


class OutageTolerance:
    """Transient failures tolerated for a span of time, not a count: how a wait outlasts an API outage.

    Each failure (after the hook's own retries) either gets a wait before the next attempt, the policy's backoff
    honouring ``Retry-After``, or, once failures have lasted ``seconds`` in a row, when the wait would pass
    ``deadline`` or when no retry can help, is raised. A success (or progress) ends the span.

    :param what: what is being attempted, for log lines (e.g. ``reading EvoLink task task-unified-…``).
    :param seconds: how long failures may last in a row (≥ 0).
    :param deadline: epoch seconds (wall clock) no wait may go past, or ``None``.
    :param policy: the backoff; its ``max_retries`` does not apply here.
    :param log: where each tolerated failure is logged (a trigger's or task's own logger reaches the task log).
    """

    def __init__(
        self,
        what: str,
        seconds: float = DEFAULT_OUTAGE_TOLERANCE,
        *,
        deadline: float | None = None,
        policy: RetryPolicy | None = None,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self.what = what
        self.seconds = seconds
        self.deadline = deadline
        self.policy = policy or RetryPolicy()
        self._log = log or globals()["log"]
        self._since: float | None = None
        self._failures = 0
        #: Seconds the current run of failures has lasted, as of the last failure.
        self.failing_for = 0.0

    def wait_after(self, error: BaseException) -> float:
        """Record a failed attempt; return the seconds to wait before the next one.

        :raises BaseException: ``error`` itself when it is not retryable, failures have lasted longer than
            ``seconds``, or the wait would end past ``deadline``.
        """
        if not is_retryable(error):
            raise error
        now = monotonic()
        if self._since is None:
            self._since = now
        self._failures += 1
        failing_for = self.failing_for = now - self._since
        wait = self.policy.backoff(self._failures, error)
        past_deadline = self.deadline is not None and time.time() + wait > self.deadline
        if failing_for > self.seconds or past_deadline:
            self._log.warning(
                "%s: giving up after failing for %.0f s (%d failures in a row)", self.what, failing_for, self._failures
            )
            raise error
        self._log.warning(
            "%s has been failing for %.0f s (%d failures in a row; tolerated for %.0f s): %s; next attempt in %.1f s",
            self.what,
            failing_for,
            self._failures,
            self.seconds,
            error,
            wait,
        )
        return wait

    def recovered(self) -> None:
        """A success or progress: the next failure starts a new span."""
        self._since = None
        self._failures = 0
        self.failing_for = 0.0

    def call(self, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` until it returns, through failures lasting up to ``seconds``.

        :raises EvoLinkError: see :meth:`wait_after`.
        """
        while True:
            try:
                result = attempt()
            except EvoLinkError as error:
                wait = self.wait_after(error)
            else:
                self.recovered()
                return result
            sleep(wait)


def monotonic() -> float:
    """The clock of outage spans (seconds). Every wait of the provider goes through this module, so tests can run
    a ten-minute outage on virtual time."""
    return time.monotonic()


def sleep(seconds: float) -> None:
    """The provider's sync wait between attempts (see :func:`monotonic`)."""
    time.sleep(seconds)


async def asleep(seconds: float) -> None:
    """The provider's async wait between attempts (see :func:`monotonic`)."""
    await asyncio.sleep(seconds)
