"""The read schedule: fewer reads while a task cannot be done, ``poll_interval`` when it may be, never more."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from airflow_provider_evolink.pacing import (
    BLIND_FACTOR,
    GRID,
    JITTER,
    MAX_FACTOR,
    PollPacer,
    next_delay,
    usable_estimate,
)

POLL = 8.0
ESTIMATE = 300.0


def linear(total: float) -> Callable[[float], int]:
    """The emulator's linear progress: 0 for the first quarter (pending), then the elapsed share."""
    return lambda t: 100 if t >= total else (0 if t < total / 4 else min(max(int(100 * t / total), 1), 99))


def stuck(total: float) -> Callable[[float], int]:
    return lambda t: 100 if t >= total else 0


def jumps(total: float) -> Callable[[float], int]:
    return lambda t: 100 if t >= total else int(4 * t / total) * 25


def wait(
    progress_at: Callable[[float], int], *, adaptive: bool, estimated_time: float | None = ESTIMATE
) -> list[float]:
    """Read times of one whole wait (seconds since creation) until a read shows the task done; no jitter."""
    now = 0.0
    pacer = PollPacer(POLL, estimated_time=estimated_time, adaptive=adaptive, rng=_NoJitter(), clock=lambda: now)
    now = pacer.first_delay()
    reads = [now]
    while (progress := progress_at(now)) < 100:
        now += pacer.delay_after(progress, created=0.0, now=now)
        reads.append(now)
    return reads


class _NoJitter(random.Random):
    """``uniform(a, b)`` at its midpoint: delays exactly as computed, the first read half a delay in."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


@pytest.mark.parametrize("shape", [linear, stuck, jumps])
@pytest.mark.parametrize("total", [20.0, 90.0, 300.0, 360.0, 900.0, 2400.0])
@pytest.mark.parametrize("estimated_time", [ESTIMATE, None])
def test_a_whole_wait_never_reads_more_than_fixed_interval_polling(
    shape: Callable[[float], Callable[[float], int]], total: float, estimated_time: float | None
) -> None:
    adaptive = wait(shape(total), adaptive=True, estimated_time=estimated_time)
    fixed = wait(shape(total), adaptive=False, estimated_time=estimated_time)

    assert len(adaptive) <= len(fixed)


def test_a_task_finishing_near_its_estimate_with_linear_progress_takes_a_third_of_the_reads() -> None:
    reads = wait(linear(ESTIMATE), adaptive=True)
    fixed = wait(linear(ESTIMATE), adaptive=False)

    assert len(reads) <= 0.35 * len(fixed)
    assert reads[-1] - ESTIMATE <= POLL  # found done within one poll_interval


@pytest.mark.parametrize("shape", [linear, stuck, jumps])
@pytest.mark.parametrize("total", [0.3 * ESTIMATE, ESTIMATE, 3 * ESTIMATE])
def test_completion_is_found_within_three_poll_intervals_whatever_the_progress_or_the_estimate_error(
    shape: Callable[[float], Callable[[float], int]], total: float
) -> None:
    reads = wait(shape(total), adaptive=True)

    assert reads[-1] - total <= 3 * POLL


@pytest.mark.parametrize(("progress", "elapsed"), [(96, 288.0), (99, 297.0), (100, 300.0)])
def test_reads_come_every_poll_interval_when_progress_says_done_is_near(progress: int, elapsed: float) -> None:
    assert next_delay(POLL, estimated_time=ESTIMATE, progress=progress, elapsed=elapsed) == POLL


def test_reads_wait_half_the_time_progress_says_is_left_within_the_caps() -> None:
    # 25% after 75 s: 225 s left at that pace, half of it is 112.5 s, capped at MAX_FACTOR intervals.
    assert next_delay(POLL, estimated_time=None, progress=25, elapsed=75.0) == MAX_FACTOR * POLL
    # 80% after 240 s: 60 s left, next read in 30 s.
    assert next_delay(POLL, estimated_time=None, progress=80, elapsed=240.0) == 30.0


def test_progress_that_stays_put_means_less_time_left_not_more() -> None:
    # 75% first seen at 225 s: 75 s left at that pace; 60 s later without a change, 15 s are left.
    fresh = next_delay(POLL, estimated_time=None, progress=75, elapsed=225.0)
    stale = next_delay(POLL, estimated_time=None, progress=75, elapsed=285.0, progress_elapsed=225.0)

    assert fresh == 37.5
    assert stale == POLL


def test_without_progress_the_estimate_paces_reads_and_a_blind_wait_is_capped() -> None:
    assert next_delay(POLL, estimated_time=ESTIMATE, progress=0, elapsed=0.0) == BLIND_FACTOR * POLL
    assert next_delay(POLL, estimated_time=ESTIMATE, progress=0, elapsed=280.0) == 10.0
    assert next_delay(POLL, estimated_time=ESTIMATE, progress=0, elapsed=600.0) == BLIND_FACTOR * POLL
    assert next_delay(POLL, estimated_time=None, progress=0, elapsed=30.0) == BLIND_FACTOR * POLL


def test_an_unknown_creation_time_means_fixed_interval() -> None:
    assert next_delay(POLL, estimated_time=ESTIMATE, progress=40, elapsed=None) == POLL


def test_fixed_interval_switch_reads_every_poll_interval_with_jitter() -> None:
    pacer = PollPacer(POLL, estimated_time=ESTIMATE, adaptive=False, rng=random.Random(7))

    first = pacer.first_delay()
    later = [pacer.delay_after(10, created=0.0, now=t) for t in (30.0, 60.0, 90.0, 120.0)]

    assert 0 <= first <= POLL
    assert all(POLL * (1 - JITTER) <= delay <= POLL * (1 + JITTER) for delay in later)


def test_adaptive_delays_carry_jitter_and_the_first_read_a_random_offset() -> None:
    pacers = [PollPacer(POLL, estimated_time=ESTIMATE, rng=random.Random(seed)) for seed in range(20)]

    firsts = {pacer.first_delay() for pacer in pacers}
    afters = {pacer.delay_after(80, created=0.0, now=240.0) for pacer in pacers}

    assert len(firsts) == 20
    assert all(0 <= first <= BLIND_FACTOR * POLL for first in firsts)
    assert len(afters) == 20
    assert all(30 * (1 - JITTER) <= after <= 30 * (1 + JITTER) for after in afters)


@pytest.mark.parametrize(("value", "expected"), [(300, 300.0), (0, None), (-5, None), (None, None), (True, None)])
def test_only_a_positive_estimate_paces_reads(value: object, expected: float | None) -> None:
    assert usable_estimate(value) == expected  # type: ignore[arg-type]


def on_grid(now: float, delay: float) -> bool:
    lines = (now + delay) / (GRID * POLL)
    return abs(lines - round(lines)) < 1e-6


@pytest.mark.parametrize("adaptive", [True, False])
def test_every_wake_up_lands_on_a_grid_line_shared_by_every_wait(adaptive: bool) -> None:
    # Waits of one event loop read the same clock: whenever each computes its delay, its wake-up falls on a
    # multiple of GRID x poll_interval, so waits due about the same time wake in the same loop iteration.
    for seed in range(50):
        now = 1000.0 + seed * 0.0137
        rng, clock = random.Random(seed), (lambda at=now: at)
        pacer = PollPacer(POLL, estimated_time=ESTIMATE, adaptive=adaptive, rng=rng, clock=clock)
        first = pacer.first_delay()
        after = pacer.delay_after(80, created=0.0, now=240.0)
        failed = pacer.retry_delay()

        assert all(on_grid(now, delay) for delay in (first, after, failed))
        assert 0 <= first <= (BLIND_FACTOR if adaptive else 1) * POLL
        assert POLL * (1 - JITTER) <= failed <= POLL * (1 + JITTER)
        expected = 30 if adaptive else POLL  # adaptive: 80 % after 240 s, 60 s left, half of it
        assert expected * (1 - JITTER) <= after <= expected * (1 + JITTER)


def test_grid_lines_keep_the_jitter_spread() -> None:
    # Moving to a grid line must not gather every wait onto one line: the jitter still spreads them.
    now = 500.0
    delays = [PollPacer(POLL, rng=random.Random(seed), clock=lambda: now).retry_delay() for seed in range(200)]

    assert len({round(delay, 6) for delay in delays}) >= 2
    assert abs(sum(delays) / len(delays) - POLL) < 0.05 * POLL
