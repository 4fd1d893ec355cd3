"""A triggerer restart mid-wait: the trigger is serialised, dropped, and re-created from its stored kwargs.

Re-created the way the triggerer does it (``Trigger.from_object`` stores the kwargs encrypted with serde; the
triggerer decrypts them, decodes them with ``smart_decode_trigger_kwargs`` and calls the class), and through a
plain ``airflow.sdk.serde`` round trip. The new trigger must wait for the same EvoLink task, send no create
request (the emulator's request log), and keep the original absolute deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_evolink.hooks import async_pool
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

O3_REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a lighthouse in a storm", "duration": 3}
#: Bounds each wait of a test: a hung trigger fails the test instead of stalling the suite.
BOUND_SECONDS = 20.0


@pytest.fixture(scope="module")
def emulator_3s() -> Iterator[Any]:
    """Tasks take 3 s: long enough to restart the trigger mid-wait, short enough to then see it complete."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=3.0) as emu:
        yield emu


@pytest.fixture(scope="module")
def emulator_slow() -> Iterator[Any]:
    """Tasks take a minute: every wait here ends at its deadline."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=60.0) as emu:
        yield emu


def _create_task(conn_id: str) -> str:
    hook = EvoLinkHook(evolink_conn_id=conn_id)
    try:
        return hook.create_video_generation(O3_REQUEST).id
    finally:
        hook.close()


def _reads(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in log if entry["method"] == "GET" and entry["path"].startswith("/v1/tasks/")]


def _posts(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in log if entry["method"] == "POST"]


def recreate_like_the_triggerer(trigger: EvoLinkTaskTrigger) -> EvoLinkTaskTrigger:
    """What a (restarted or other) triggerer builds from the trigger row."""
    from airflow.models.trigger import Trigger
    from airflow_names import import_string, trigger_row_kwargs

    row = Trigger.from_object(trigger)
    restored = import_string(row.classpath)(**trigger_row_kwargs(row.encrypted_kwargs))
    assert isinstance(restored, EvoLinkTaskTrigger)
    return restored


def recreate_through_serde(trigger: EvoLinkTaskTrigger) -> EvoLinkTaskTrigger:
    """serialize() → serde → JSON text (as stored) → serde → the class named by the classpath."""
    from airflow_names import import_string

    from airflow_provider_evolink.compat import deserialize_trigger_kwargs as deserialize
    from airflow_provider_evolink.compat import serialize_trigger_kwargs as serialize

    classpath, kwargs = trigger.serialize()
    stored = json.dumps(serialize(kwargs))
    restored = import_string(classpath)(**deserialize(json.loads(stored)))
    assert isinstance(restored, EvoLinkTaskTrigger)
    return restored


async def _wait_until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(BOUND_SECONDS):
        while not condition():
            await asyncio.sleep(0.02)


async def _start_then_drop(trigger: EvoLinkTaskTrigger, emu: Any, evolink_task_id: str) -> list[Any]:
    """Run ``trigger`` until it has read the task at least once, then cancel it as a dying triggerer would."""
    events: list[Any] = []

    async def consume() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    running = asyncio.create_task(consume())
    await _wait_until(
        lambda: any(entry["task_id"] == evolink_task_id for entry in _reads(emu.requests())), "a first poll"
    )
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    return events


@pytest.mark.parametrize("recreate", [recreate_like_the_triggerer, recreate_through_serde])
async def test_a_recreated_trigger_resumes_the_same_task_without_submitting(
    evolink_connection: Callable[..., str],
    emulator_3s: Any,
    recreate: Callable[[EvoLinkTaskTrigger], EvoLinkTaskTrigger],
) -> None:
    conn_id = evolink_connection(emulator_3s.base_url, emulator_3s.api_key, "evolink_restart")
    evolink_task_id = await asyncio.to_thread(_create_task, conn_id)
    end_time = time.time() + 60
    first = EvoLinkTaskTrigger(evolink_task_id, conn_id, poll_interval=0.2, end_time=end_time)
    emulator_3s.clear_requests()

    events = await _start_then_drop(first, emulator_3s, evolink_task_id)
    assert events == [], "the task finished before the restart: nothing was tested"
    # Dropping the trigger released its share of the loop's client (nothing leaks across restarts).
    assert not async_pool._SHARED.get(asyncio.get_running_loop())

    second = recreate(first)
    assert second.serialize() == first.serialize()
    assert second.end_time == end_time
    before_restart = len(emulator_3s.requests())

    async def run_to_event() -> list[dict[str, Any]]:
        return [event.payload async for event in second.run()]

    events = await asyncio.wait_for(run_to_event(), BOUND_SECONDS)
    assert [(event["status"], event["evolink_task_id"]) for event in events] == [("success", evolink_task_id)]
    log = emulator_3s.requests()
    assert _posts(log) == [], "a create request was sent around the restart"
    after_restart = log[before_restart:]
    assert _reads(after_restart), "the re-created trigger never polled"
    assert {entry["path"] for entry in after_restart} == {f"/v1/tasks/{evolink_task_id}"}


async def test_a_recreated_trigger_keeps_the_original_deadline(
    evolink_connection: Callable[..., str], emulator_slow: Any
) -> None:
    conn_id = evolink_connection(emulator_slow.base_url, emulator_slow.api_key, "evolink_restart_slow")
    evolink_task_id = await asyncio.to_thread(_create_task, conn_id)
    end_time = time.time() + 2.0
    first = EvoLinkTaskTrigger(evolink_task_id, conn_id, poll_interval=0.2, end_time=end_time)
    emulator_slow.clear_requests()

    assert await _start_then_drop(first, emulator_slow, evolink_task_id) == []
    await asyncio.sleep(max(0.0, end_time - 1.0 - time.time()))  # restart with about a second left
    restarted_at = time.time()
    second = recreate_like_the_triggerer(first)

    async def run_to_event() -> list[dict[str, Any]]:
        return [event.payload async for event in second.run()]

    events = await asyncio.wait_for(run_to_event(), BOUND_SECONDS)
    finished_at = time.time()
    assert [(event["status"], event["evolink_task_id"]) for event in events] == [("timeout", evolink_task_id)]
    # The deadline is the original one: not 2 s after the restart, and not before the original deadline.
    assert end_time - 0.05 <= finished_at < end_time + 1.0
    assert finished_at - restarted_at < 2.0
    assert _posts(emulator_slow.requests()) == []
