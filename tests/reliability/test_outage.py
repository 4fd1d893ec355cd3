"""A ten-minute API outage (every ``/v1/`` request answered 429 with ``Retry-After: 5``) outlasted on virtual time.

Issue 12: a 60 s storm used to fail paid generations (the trigger gave up after 6 failed reads; the reconnect read
and the save's task read after the hook's few retries). Here each wait lives through 11 virtual minutes of 429s
against the emulator over real HTTP, then succeeds: a deferred wait (the trigger), a sync wait, a retry's
reconnect read and a save. ``VirtualTime`` runs the provider's waits instantly; the storm ends when the virtual
clock passes 11 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeTaskInstance, FakeTaskStateStore, SimulatedCrash, VirtualTime, context_of

from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.never_pay_twice import STATE_TASK_ID
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator
from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

STORM_SECONDS = 660.0  # eleven minutes of virtual time
O3 = {"model": "kling-o3-reference-to-video", "prompt": "a fox in the snow", "duration": 5}


@pytest.fixture(scope="module")
def storm_emulator() -> Iterator[Any]:
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0, retry_after_seconds=5) as emu:
        yield emu


@pytest.fixture
def connection(storm_emulator: Any, evolink_connection: Callable[..., str]) -> str:
    """``evolink_default`` at the storm emulator, with the default retries and outage tolerance."""
    return evolink_connection(storm_emulator.base_url, storm_emulator.api_key)


class Storm:
    """Starts a 100 % 429 storm now (virtual time) and ends it after :data:`STORM_SECONDS`; counts the 429s."""

    def __init__(self, emu: Any, clock: VirtualTime) -> None:
        self.emu, self.clock = emu, clock
        self.started_at: float | None = None
        self.first_request = 0

    def start(self) -> None:
        if self.started_at is not None:
            return
        self.started_at = self.clock.now
        self.first_request = len(self.emu.requests())
        self.emu.set_faults(rate_429=1.0)
        self.clock.at(self.started_at + STORM_SECONDS, lambda: self.emu.set_faults(rate_429=0.0))

    def rate_limited(self) -> int:
        return sum(1 for r in self.emu.requests()[self.first_request :] if r["status"] == 429)

    def check_outlasted(self) -> None:
        assert self.started_at is not None
        assert self.clock.now - self.started_at >= STORM_SECONDS, "finished inside the storm"
        assert self.rate_limited() > 20, "the storm did not hit"


@pytest.fixture
def storm(storm_emulator: Any, virtual_time: VirtualTime) -> Iterator[Storm]:
    storm = Storm(storm_emulator, virtual_time)
    yield storm
    storm_emulator.set_faults(rate_429=0.0)


def create_task() -> str:
    hook = EvoLinkHook()
    try:
        return hook.create_video_generation(O3).id
    finally:
        hook.close()


@pytest.mark.usefixtures("connection")
async def test_a_deferred_wait_outlasts_a_ten_minute_storm(storm: Storm) -> None:
    evolink_task_id = create_task()
    storm.start()
    trigger = EvoLinkTaskTrigger(evolink_task_id, "evolink_default", poll_interval=8.0, end_time=time.time() + 3600)

    [event] = [event.payload async for event in trigger.run()]

    assert event["status"] == "success", event
    storm.check_outlasted()


@pytest.mark.usefixtures("connection")
def test_a_sync_wait_outlasts_a_ten_minute_storm(storm: Storm) -> None:
    store = FakeTaskStateStore()
    store._observe = lambda: storm.start() if STATE_TASK_ID in store.values else None  # right after the POST
    ti = FakeTaskInstance()

    operator = EvoLinkGenerateVideoOperator(
        task_id="generate", request=O3, wait_for_completion=True, deferrable=False, poll_interval=8.0
    )
    evolink_task_id = operator.execute(context_of(ti, store))

    assert ti.xcoms["evolink_task"]["id"] == evolink_task_id
    storm.check_outlasted()


@pytest.mark.usefixtures("connection")
def test_a_retrys_reconnect_read_outlasts_a_ten_minute_storm(storm_emulator: Any, storm: Storm) -> None:
    since = len(storm_emulator.requests())
    store = FakeTaskStateStore()
    operator = EvoLinkGenerateVideoOperator(task_id="generate", request=O3, poll_interval=8.0)
    with pytest.raises(SimulatedCrash):
        operator.execute(context_of(FakeTaskInstance(crash_on_push="evolink_task_id"), store))
    storm.start()

    evolink_task_id = operator.execute(context_of(FakeTaskInstance(), store))

    assert evolink_task_id == store.values[STATE_TASK_ID]
    posts = [r for r in storm_emulator.requests()[since:] if r["method"] == "POST"]
    assert len(posts) == 1  # reconnected: not submitted again
    storm.check_outlasted()


@pytest.mark.usefixtures("connection")
def test_a_save_outlasts_a_ten_minute_storm(tmp_path: Path, storm: Storm) -> None:
    evolink_task_id = create_task()
    storm.start()

    uris = EvoLinkToStorageOperator(task_id="save", evolink_task_id=evolink_task_id, destination=str(tmp_path)).execute(
        {}
    )

    assert uris == [str(tmp_path / f"{evolink_task_id}.mp4")]
    assert (tmp_path / f"{evolink_task_id}.mp4").stat().st_size > 0
    storm.check_outlasted()


def test_the_default_tolerance_is_at_least_ten_minutes() -> None:
    from airflow_provider_evolink.retry import DEFAULT_OUTAGE_TOLERANCE

    assert DEFAULT_OUTAGE_TOLERANCE >= 600
