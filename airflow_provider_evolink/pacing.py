"""
When to read an EvoLink task next: fewer reads while it cannot be done yet, ``poll_interval`` when it may be.

Every read of an unfinished task makes EvoLink query the upstream model
(``airflow_provider_evolink/api_reference/evolink-api.md``, "Polling"), and a Kling render takes about 300 s: reading
every 8 s from start to finish costs ~38 reads per video. What EvoLink says about a task shapes the wait instead:

* ``progress`` (0–100, every ``GET /v1/tasks/{task_id}``, ``get-task-detail.openapi.yaml``) and the time since
  the task was created give its pace; the next read comes after half the time that pace says is left. The pace
  counts from the read that first showed the current progress, so progress that moves in jumps, or stops,
  does not stretch the wait: a value that stays put means less and less time left, down to ``poll_interval``.
* ``task_info.estimated_time`` (seconds, in the create answer, ``kling-*.openapi.yaml``) bounds the wait while
  progress says nothing (0, or stale): the next read comes after half the time to the estimate, and never more
  than :data:`BLIND_FACTOR` × ``poll_interval`` later, since the estimate can be wrong in either direction.

The delay is never below ``poll_interval`` (so never more reads than fixed-interval polling) and never above
:data:`MAX_FACTOR` × ``poll_interval``. :class:`PollPacer` adds what every waiter shares: a random first-read
offset, ± :data:`JITTER` on later reads (waits started together drift apart), the progress bookkeeping, and the
switch back to fixed-interval polling (``adaptive=False``).

Within its random range, each wake-up lands on a grid line: a multiple of :data:`GRID` × ``poll_interval`` on the
process's monotonic clock. Every wait of a triggerer's event loop shares that clock, so the reads of the waits due
about the same time start in the same loop iteration instead of one wake-up each; the spread of reads over time
stays what the random offset and jitter make it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from airflow_provider_evolink import retry

__all__ = ["BLIND_FACTOR", "GRID", "JITTER", "MAX_FACTOR", "PollPacer", "next_delay", "usable_estimate"]

#: Share of the expected remaining time waited before the next read: the reads close in on the expected end
#: (half, a quarter, ... of the time left), so a task that ends sooner than its pace says is found soon after.
_REMAINING_FRACTION = 0.5
#: Longest delay while progress says nothing, in multiples of ``poll_interval``: bounds the detection delay when
#: the estimate is wrong or progress stays at 0 until the end.
BLIND_FACTOR = 2.5
#: Longest delay whatever the pace says, in multiples of ``poll_interval``.
MAX_FACTOR = 6.0
#: Each delay is multiplied by a random factor in 1 ± this.
JITTER = 0.1
#: Spacing of the grid lines wake-ups land on, in multiples of ``poll_interval``: the jitter's size, so a jittered
#: range (± :data:`JITTER` of a delay of at least ``poll_interval``) always holds two lines or more. Coarser lines
#: gather more reads per loop iteration (half this spacing measured no CPU saving: ``benchmarks/README.md``).
GRID = JITTER
#: The random source of waits that bring none (one per process, like the ``random`` module's own).
_RNG = random.Random()


def usable_estimate(estimated_time: float | None) -> float | None:
    """``task_info.estimated_time`` as seconds to pace by, or ``None`` when missing or not > 0 (the schema
    allows 0, which says nothing)."""
    if isinstance(estimated_time, bool) or not isinstance(estimated_time, int | float) or not estimated_time > 0:
        return None
    return float(estimated_time)


def next_delay(
    poll_interval: float,
    *,
    estimated_time: float | None,
    progress: int,
    elapsed: float | None,
    progress_elapsed: float | None = None,
) -> float:
    """Seconds to wait before the next read of an unfinished task (before jitter).

    :param poll_interval: the fastest pace, seconds (> 0): the result is never below it.
    :param estimated_time: ``task_info.estimated_time`` of the create answer, seconds since creation; ``None``
        if unknown.
    :param progress: the last ``progress`` read, percent (0–100).
    :param elapsed: seconds since the task was created (its ``created`` time), ``None`` if unknown: then
        ``poll_interval`` (nothing to pace by).
    :param progress_elapsed: ``elapsed`` at the read that first showed this ``progress`` (default: ``elapsed``).
    :return: seconds, between ``poll_interval`` and :data:`MAX_FACTOR` × ``poll_interval``.
    """
    if elapsed is None or progress >= 100:
        return poll_interval
    since = elapsed if progress_elapsed is None else min(progress_elapsed, elapsed)
    # At the pace of p% in `since` s, the rest takes since × (100 - p) / p, less the time since the last change.
    by_progress = since * (100 - progress) / progress - (elapsed - since) if progress > 0 and since > 0 else 0.0
    if by_progress > 0:
        delay = _REMAINING_FRACTION * by_progress
    else:
        delay = BLIND_FACTOR * poll_interval
        if estimated_time is not None and estimated_time > elapsed:
            delay = min(delay, _REMAINING_FRACTION * (estimated_time - elapsed))
    return min(max(poll_interval, delay), MAX_FACTOR * poll_interval)


class PollPacer:
    """The read schedule of one wait: :func:`next_delay` with jitter, or fixed-interval polling.

    :param poll_interval: seconds between reads when the task may be done (> 0; with ``adaptive=False``, always).
    :param estimated_time: ``task_info.estimated_time`` of the task, seconds; ``None`` if unknown.
    :param adaptive: pace reads by progress and estimate (default); ``False``: a read every ``poll_interval``
        ± :data:`JITTER` (fixed-interval polling).
    :param rng: source of the random offset and jitter (tests pass a seeded ``random.Random``).
    :param clock: the monotonic clock (seconds) the grid lines are multiples on; default the provider's wait clock
        (``retry.monotonic``), the event loop's.
    """

    def __init__(
        self,
        poll_interval: float,
        *,
        estimated_time: float | None = None,
        adaptive: bool = True,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self.estimated_time = estimated_time
        self.adaptive = adaptive
        self._rng = rng or _RNG
        self._clock = clock
        self._progress: int | None = None
        self._progress_elapsed: float | None = None

    def first_delay(self) -> float:
        """Seconds before the first read of a wait: a random fraction of the first delay (on a grid line), so
        waits started together (dynamic task mapping) do not read in lock step."""
        first = self.poll_interval
        if self.adaptive:
            first = next_delay(self.poll_interval, estimated_time=self.estimated_time, progress=0, elapsed=0.0)
        return self._on_grid(0.0, first)

    def retry_delay(self) -> float:
        """Seconds until the next read after a read that failed: ``poll_interval`` ± :data:`JITTER` (on a grid
        line)."""
        return self._jittered(self.poll_interval)

    def delay_after(self, progress: int, created: float | None, now: float | None = None) -> float:
        """Seconds until the next read, after a read that showed ``progress`` (percent).

        :param created: the task's ``created`` time, epoch seconds (``None`` if the answer had none).
        :param now: the time of the read, epoch seconds (default: now).
        """
        if not self.adaptive:
            return self.retry_delay()
        elapsed = None if created is None else max(0.0, (time.time() if now is None else now) - created)
        if progress != self._progress or self._progress_elapsed is None:
            self._progress, self._progress_elapsed = progress, elapsed
        delay = next_delay(
            self.poll_interval,
            estimated_time=self.estimated_time,
            progress=progress,
            elapsed=elapsed,
            progress_elapsed=self._progress_elapsed,
        )
        return self._jittered(delay)

    def _jittered(self, delay: float) -> float:
        return self._on_grid(delay * (1 - JITTER), delay * (1 + JITTER))

    def _on_grid(self, low: float, high: float) -> float:
        """A random delay between ``low`` and ``high`` seconds, moved to the nearest grid line in that range
        (as is when the range holds none)."""
        now = (self._clock or retry.monotonic)()
        target = now + self._rng.uniform(low, high)
        spacing = GRID * self.poll_interval
        first, last = math.ceil((now + low) / spacing), math.floor((now + high) / spacing)
        if first > last:
            return target - now
        line = min(max(round(target / spacing), first), last) * spacing
        return min(max(line - now, low), high)  # the range's own bounds, against a float's last digit
