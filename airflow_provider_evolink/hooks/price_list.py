"""
Reading EvoLink's public price list (``GET /web/api/models/pricing`` on the API host), cached per process.

The list is public: it is read **without** the API key (no ``Authorization`` header), with a short timeout, and
kept in memory for :data:`PRICE_LIST_TTL` seconds per API host, so the mapped tasks of one worker read it once. When
a refresh fails, a copy read less than :data:`MAX_STALE` seconds ago is still used; with none, the failure is
remembered for :data:`RETRY_AFTER_FAILURE` seconds, so a list that is down costs one timeout, not one per task.
The list is advice: nothing about reading it fails a task (the caller falls back to the catalogue's prices).

API reference: ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Price list"); SKU rules:
:mod:`airflow_provider_evolink.models.price_list`.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import httpx

from airflow_provider_evolink import retry
from airflow_provider_evolink.hooks.settings import USER_AGENT, tls_context
from airflow_provider_evolink.models.price_list import PriceList, parse_price_list

__all__ = [
    "MAX_STALE",
    "PRICE_LIST_PATH",
    "PRICE_LIST_TIMEOUT",
    "PRICE_LIST_TTL",
    "RETRY_AFTER_FAILURE",
    "PriceListRead",
    "forget_price_lists",
    "read_price_list",
]

#: Path of the price list on the API host.
PRICE_LIST_PATH = "/web/api/models/pricing"
#: Seconds one read may take, connect included: the list only refines an estimate.
PRICE_LIST_TIMEOUT = 5.0
#: Seconds a read list is used before it is read again (prices change by announcement, not by the minute).
PRICE_LIST_TTL = 600.0
#: Seconds a list that could not be read is not asked for again.
RETRY_AFTER_FAILURE = 60.0
#: Seconds an old copy is still used while the list cannot be read.
MAX_STALE = 86_400.0


class PriceListRead(NamedTuple):
    """The outcome of :func:`read_price_list`: the list (``None``: none usable) and, when something went wrong,
    ``problem`` (why there is no list, or why an older copy is used), for the task log."""

    price_list: PriceList | None
    problem: str | None = None


class _Entry(NamedTuple):
    price_list: PriceList | None
    read_at: float  # monotonic seconds of the last good read
    failed_at: float | None  # monotonic seconds of the last failed read, None after a good one
    problem: str | None


_CACHE: dict[str, _Entry] = {}
_LOCK = threading.Lock()


def read_price_list(base_url: str) -> PriceListRead:
    """EvoLink's price list for the API at ``base_url``: from this process's cache while it is fresh, else read.

    Never raises: an unreachable host, a timeout, an HTTP error or a body that is not a price list give the last
    copy (if younger than :data:`MAX_STALE`) or none, with the ``problem`` said.

    :param base_url: the API base URL (e.g. ``https://api.evolink.ai``), without a trailing slash.
    """
    with _LOCK:  # one read at a time per process: the tasks of a worker share it
        now = retry.monotonic()
        entry = _CACHE.get(base_url)
        if entry is not None and _usable(entry, now):
            return PriceListRead(entry.price_list, entry.problem)
        try:
            price_list = _fetch(base_url)
        except Exception as error:  # advice only: whatever went wrong, the task goes on with the catalogue
            entry = _failed(entry, now, _reason(error))
            _CACHE[base_url] = entry
            return PriceListRead(entry.price_list, entry.problem)
        _CACHE[base_url] = _Entry(price_list, now, None, None)
        return PriceListRead(price_list)


def forget_price_lists() -> None:
    """Empty this process's cache (the next read asks EvoLink again)."""
    with _LOCK:
        _CACHE.clear()


def _usable(entry: _Entry, now: float) -> bool:
    """A fresh good read, or a failure too recent to ask again."""
    if entry.failed_at is not None:
        return now - entry.failed_at < RETRY_AFTER_FAILURE
    return now - entry.read_at < PRICE_LIST_TTL


def _failed(entry: _Entry | None, now: float, reason: str) -> _Entry:
    """The cache entry after a failed read: the old copy while it is not too old, else none."""
    if entry is not None and entry.price_list is not None and now - entry.read_at < MAX_STALE:
        minutes = (now - entry.read_at) / 60
        problem = f"EvoLink's price list could not be read ({reason}); using the copy read {minutes:.0f} min ago"
        return _Entry(entry.price_list, entry.read_at, now, problem)
    return _Entry(None, now, now, f"EvoLink's price list could not be read ({reason})")


def _reason(error: Exception) -> str:
    """Why a read failed, in a few words (an HTTP status, or the error's type and message)."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _fetch(base_url: str) -> PriceList:
    """One read of the list, without the API key.

    :raises httpx.HTTPError: no answer, or a non-2xx one. :raises ValueError: the body is not a price list.
    """
    with httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=httpx.Timeout(PRICE_LIST_TIMEOUT),
        verify=tls_context(),
    ) as client:
        response = client.get(base_url + PRICE_LIST_PATH)
        response.raise_for_status()
        return parse_price_list(response.json(), time.time())
