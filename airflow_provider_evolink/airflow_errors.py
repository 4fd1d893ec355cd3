"""
What Airflow does after an EvoLink error or event: fail now, or let Airflow retry the task.

One rule for every task of the provider (operator, sensor, trigger event, transfer): an error whose ``retryable``
is ``False`` (a bad request or configuration, 400/401/402/403/404/409/413, an expired result link, a task that
failed for good) becomes :class:`~airflow.sdk.exceptions.AirflowFailException`, so no Airflow retry is spent on
something that would fail the same way; a retryable one stays retryable (an Airflow retry reconnects to the stored
EvoLink task, replays the stored ``Idempotency-Key`` or resumes a download).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_evolink.compat import AirflowException, AirflowFailException
from airflow_provider_evolink.exceptions import EvoLinkError

__all__ = ["airflow_exception", "fail_or_retry"]


def airflow_exception(message: str, *, retryable: bool) -> AirflowException:
    """``AirflowException`` (Airflow may retry) when ``retryable``, else ``AirflowFailException`` (fail now)."""
    return AirflowException(message) if retryable else AirflowFailException(message)


@contextmanager
def fail_or_retry() -> Iterator[None]:
    """Let retryable errors through as they are; turn an :class:`EvoLinkError` that is not into
    ``AirflowFailException`` with the same (secret-free) message, chained to the original.

    :raises AirflowFailException: an ``EvoLinkError`` with ``retryable`` ``False`` was raised inside.
    """
    try:
        yield
    except EvoLinkError as error:
        if error.retryable:
            raise
        raise AirflowFailException(str(error)) from error
