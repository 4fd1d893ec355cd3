"""
Shared reads in the triggerer: the waits of one connection hand their due reads to one coalescer, which reads up to
50 tasks per ``POST /v1/tasks/batch`` call.

API source: ``airflow_provider_evolink/api_reference/evolink-api.md``, "Reading many tasks" (the batch read, not in
EvoLink's public docs pages) and ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``).

Airflow's triggerer runs every trigger of a process in one event loop; the coalescer of a connection (same base
URL and API key, so the same shared HTTP client) lives in that loop. How a read goes:

* Each wait keeps its own pace (:class:`~airflow_provider_evolink.pacing.PollPacer`): its next read is due
  ``delay`` seconds from now. While other waits of the connection are waiting too, the read is pulled earlier to the
  last batch line before it: a multiple of ``poll_interval`` less the jitter (:data:`~.pacing.JITTER`) on the event
  loop's clock, so that the waits with the same ``poll_interval`` read on the same lines. A wait on the lines reads
  at most once per spacing; one whose read fell between lines (its first) may read half a spacing sooner, once, to
  move onto them; a read after a failure goes on the first line after its backoff (``Retry-After`` included) where
  one comes before its pace. A read is never later than its pace says; a lone wait reads exactly on its pace.
* The reads handed over in one loop iteration go together, up to 50 per call. A lone read goes as
  ``GET /v1/tasks/{task_id}`` (with ``batch_reads: on``, through the batch call too).
* A task missing from the batch answer (or not a valid detail there) is read alone, which ends in today's not-found
  handling when it is really gone.
* The batch call goes through the hook's one retry policy: 429 with ``Retry-After`` (which pauses every read of the
  shared client; the reads coming due in the pause wait for its end and go out together), 5xx, no answer; an error
  that outlasts it reaches every wait of the batch, whose outage tolerance takes it as it takes a single read's.
* Capability detection: the first 404 or 405, or an answer not shaped ``{"data": [...]}``, turns batching off for
  the connection in this process, logged once; the waits of that batch are read alone at once, and every wait goes
  on with single reads. No wait loses its event.

Nothing here outlives the process or matters for correctness: a trigger re-created in another triggerer simply
joins that process's coalescer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_evolink import retry
from airflow_provider_evolink.exceptions import EvoLinkAPIError, EvoLinkError, EvoLinkResponseError
from airflow_provider_evolink.hooks.batch import MAX_BATCH_READ

if TYPE_CHECKING:
    from airflow_provider_evolink.hooks.evolink import EvoLinkHook
    from airflow_provider_evolink.hooks.settings import ConnectionSettings
    from airflow_provider_evolink.models.responses import TaskDetail

__all__ = ["MAX_CONCURRENT_BATCHES", "ReadCoalescer", "coalescer_for", "paced_read"]

log = logging.getLogger(__name__)

#: Batch calls of one coalescer in flight at once: few connections serve thousands of waits.
MAX_CONCURRENT_BATCHES = 8
#: Seconds of float rounding tolerated between a batch line and the soonest a read may come.
_CLOCK_SLACK = 1e-6
#: HTTP statuses that mean "this service has no batch read".
_NO_BATCH_STATUSES = frozenset({404, 405})


@dataclass(eq=False, slots=True)
class _Read:
    """One wait's read held by the coalescer: the hook it reads with and what it awaits."""

    hook: EvoLinkHook
    future: asyncio.Future[TaskDetail]
    force: bool  # batch_reads "on": even a lone read goes through the batch call


class ReadCoalescer:
    """The shared reads of one connection in one event loop (see the module docstring).

    :ivar batching: whether batch calls are still tried (``False`` once the service showed it has none).
    :ivar planned: waits of the connection sleeping until a planned read.
    """

    def __init__(self) -> None:
        self.batching = True
        self.planned = 0
        self._held: dict[str, list[_Read]] = {}  # task ID → the reads waiting for it (two waits may share a task)
        self._soon: asyncio.Handle | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)

    def __repr__(self) -> str:
        return f"ReadCoalescer(batching={self.batching}, held={len(self._held)}, in_flight={len(self._in_flight)})"

    def pulled(self, now: float, delay: float, earliest: float | None, line: float) -> float:
        """Seconds from ``now`` to read a task due ``delay`` seconds from ``now``: the last multiple of ``line``
        seconds (on ``retry.monotonic()``'s clock) before the due time and not before ``earliest``, else ``delay``.
        ``earliest`` ``None`` (a read that must not come early), or no other wait of the connection waiting: ``delay``.
        """
        if earliest is None or (self.planned == 0 and not self._held):
            return delay
        at = math.floor((now + delay) / line) * line
        return at - now if at >= earliest - _CLOCK_SLACK and at > now else delay

    async def read(self, hook: EvoLinkHook, evolink_task_id: str, *, force: bool = False) -> TaskDetail:
        """The task's detail, read with the other reads handed over in this loop iteration (up to 50 per call).

        :raises EvoLinkError: what reading it raised (as :meth:`EvoLinkHook.aget_task` would).
        """
        future: asyncio.Future[TaskDetail] = asyncio.get_running_loop().create_future()
        entry = _Read(hook, future, force)
        self._held.setdefault(evolink_task_id, []).append(entry)
        if len(self._held) >= MAX_BATCH_READ:
            self._send_held()
        elif self._soon is None:
            # The next iteration: every wait woken by the same timer tick has handed its read over by then.
            self._soon = asyncio.get_running_loop().call_soon(self._send_held)
        try:
            return await future
        except asyncio.CancelledError:
            self._forget(evolink_task_id, entry)
            raise

    def _send_held(self) -> None:
        """Send every held read, 50 tasks per call."""
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        held, self._held = self._held, {}
        ids = list(held)
        for start in range(0, len(ids), MAX_BATCH_READ):
            chunk = {task_id: held[task_id] for task_id in ids[start : start + MAX_BATCH_READ]}
            task = asyncio.get_running_loop().create_task(self._read_chunk(chunk))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def _forget(self, evolink_task_id: str, entry: _Read) -> None:
        entries = self._held.get(evolink_task_id)
        if entries is not None and entry in entries:
            entries.remove(entry)
            if not entries:
                del self._held[evolink_task_id]

    async def _read_chunk(self, chunk: dict[str, list[_Read]]) -> None:
        """Read a chunk: one batch call where it applies, then each task it did not answer alone. Every held read
        ends with a result or an exception, whatever happens."""
        try:
            found = await self._read_batch(chunk)
            for task_id, detail in found.items():
                _settle(chunk.pop(task_id), detail)
            await asyncio.gather(*(self._read_alone(task_id, entries) for task_id, entries in chunk.items()))
        except Exception as error:  # no wait may hang on a lost read
            for entries in chunk.values():
                _settle(entries, error)
        except BaseException:  # cancelled (the loop is shutting down): so are the reads it held
            for entries in chunk.values():
                for entry in entries:
                    entry.future.cancel()
            raise

    async def _read_batch(self, chunk: dict[str, list[_Read]]) -> dict[str, TaskDetail]:
        """The details one batch call found, ``{}`` when no batch call applies (or the service has none)."""
        live = [entry for entries in chunk.values() for entry in entries if not entry.future.done()]
        if not live or not self.batching or (len(chunk) < 2 and not any(entry.force for entry in live)):
            return {}
        try:
            async with self._slots:
                return await live[0].hook.aread_tasks(list(chunk))
        except EvoLinkError as error:
            if isinstance(error, EvoLinkAPIError) and error.status_code == 400:
                return {}  # an ID it refused: each is read alone, so only that wait hears the 400
            if not _no_batch_read(error):
                raise
            self._turn_off(error, warn=any(entry.force for entry in live))
            return {}

    async def _read_alone(self, evolink_task_id: str, entries: list[_Read]) -> None:
        live = [entry for entry in entries if not entry.future.done()]
        if not live:
            return
        try:
            detail = await live[0].hook.aget_task(evolink_task_id)
        except Exception as error:
            _settle(live, error)
        else:
            _settle(live, detail)

    def _turn_off(self, error: EvoLinkError, *, warn: bool) -> None:
        if not self.batching:
            return
        self.batching = False
        log.log(
            logging.WARNING if warn else logging.INFO,
            "EvoLink batch reads (POST /v1/tasks/batch) are not available here (%s): every wait of this connection "
            "reads its task alone from now on, in this process",
            error,
        )


def _no_batch_read(error: EvoLinkError) -> bool:
    """Whether ``error`` says the service has no batch read as the provider knows it: 404/405, or a 2xx answer of
    another shape."""
    if isinstance(error, EvoLinkAPIError):
        return error.status_code in _NO_BATCH_STATUSES
    return isinstance(error, EvoLinkResponseError)


def _settle(entries: list[_Read], outcome: TaskDetail | BaseException) -> None:
    for entry in entries:
        if entry.future.done():
            continue
        if isinstance(outcome, BaseException):
            entry.future.set_exception(outcome)
        else:
            entry.future.set_result(outcome)


#: event loop → {(base URL, API key): coalescer}; a closed, collected loop drops its coalescers.
_COALESCERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], ReadCoalescer]] = (
    weakref.WeakKeyDictionary()
)


def coalescer_for(settings: ConnectionSettings) -> ReadCoalescer:
    """The running loop's coalescer of a connection (its base URL and API key)."""
    coalescers = _COALESCERS.setdefault(asyncio.get_running_loop(), {})
    key = (settings.base_url, settings.api_key)
    if (coalescer := coalescers.get(key)) is None:
        coalescer = coalescers[key] = ReadCoalescer()
    return coalescer


async def paced_read(
    hook: EvoLinkHook, evolink_task_id: str, delay: float, *, earliest: float | None, line: float
) -> tuple[TaskDetail, float]:
    """Read a task ``delay`` seconds from now at the latest; earlier, in a batch with other waits, where it helps.

    :param delay: seconds until the read is due (the wait's pace and deadline).
    :param earliest: the soonest the read may be pulled to (``retry.monotonic()`` seconds: the previous read plus
        the pace's minimum spacing, or the end of the backoff after a failure, ``Retry-After`` included);
        ``None``: not a moment early.
    :param line: the spacing of the batch lines, seconds: ``poll_interval`` less the jitter.
    :return: the detail and when it was read (``retry.monotonic()`` seconds, as planned).
    :raises EvoLinkError: reading failed (see :meth:`EvoLinkHook.aget_task`); :class:`EvoLinkConfigError` for a
        bad connection.
    """
    settings = await hook.asettings()
    coalescer = coalescer_for(settings) if settings.batch_reads != "off" else None
    now = retry.monotonic()
    if coalescer is None or not coalescer.batching:
        await retry.asleep(delay)
        return await hook.aget_task(evolink_task_id), now + delay
    wait = coalescer.pulled(now, delay, earliest, line)
    coalescer.planned += 1
    try:
        await retry.asleep(wait)
        # Reads coming due in a Retry-After pause go out together when it ends, not one small batch per tick.
        await hook.await_pause()
    finally:
        coalescer.planned -= 1
    return await coalescer.read(hook, evolink_task_id, force=settings.batch_reads == "on"), now + wait
