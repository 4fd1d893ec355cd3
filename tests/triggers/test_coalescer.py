"""Shared reads in the triggerer (``triggers/coalescer.py``): many waits against the emulator over real HTTP, then the
coalescer's precise edge cases with a stand-in hook."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator
from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkBadRequestError,
    EvoLinkNotFoundError,
    EvoLinkResponseError,
    EvoLinkServerError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import TaskDetail
from airflow_provider_evolink.triggers.coalescer import ReadCoalescer, paced_read
from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

O3_REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a red fox in the snow", "duration": 5}
MISSING = "task-unified-1700000000-missing0"
WAITS = 12


@pytest.fixture(scope="module")
def render_emulator() -> Iterator[EvoLinkEmulator]:
    """Tasks render for 1.5 s: long enough for several paced reads at a 0.1 s pace, short enough for a fast test."""
    with EvoLinkEmulator(processing_seconds=1.5, fetch_inputs=False) as emu:
        yield emu


@pytest.fixture
def batch_conn(render_emulator: EvoLinkEmulator, evolink_connection: Callable[..., str]) -> Callable[..., str]:
    """``connect(**extra)``: a connection to the render emulator (fault-free, request log cleared) with ``extra``."""

    def connect(**extra: object) -> str:
        render_emulator.set_faults(rate_batch_404=0.0, rate_429=0.0)
        render_emulator.clear_requests()
        return evolink_connection(render_emulator.base_url, render_emulator.api_key, "evolink_batch", **extra)

    return connect


def create_tasks(conn_id: str, count: int) -> list[str]:
    hook = EvoLinkHook(evolink_conn_id=conn_id)
    try:
        return [hook.create_video_generation(O3_REQUEST).id for _ in range(count)]
    finally:
        hook.close()


async def wait_all(conn_id: str, task_ids: list[str], **kwargs: Any) -> list[dict[str, Any]]:
    """Run one trigger per task in this event loop; each must fire exactly one event."""

    async def wait(evolink_task_id: str) -> dict[str, Any]:
        trigger = EvoLinkTaskTrigger(evolink_task_id, conn_id, 0.1, time.time() + 30, estimated_time=2, **kwargs)
        [event] = [event.payload async for event in trigger.run()]
        return event

    return await asyncio.gather(*(wait(task_id) for task_id in task_ids))


def reads_in_log(emu: EvoLinkEmulator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(batch reads, single reads) the emulator answered, in order."""
    log = emu.requests()
    batches = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/v1/tasks/batch"]
    singles = [entry for entry in log if entry["method"] == "GET" and entry["path"].startswith("/v1/tasks/task-")]
    return batches, singles


# ----------------------------------------------------------------------------------- the emulator over HTTP
async def test_many_waits_read_their_tasks_in_batches_and_all_complete(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator
) -> None:
    conn_id = batch_conn()
    task_ids = create_tasks(conn_id, WAITS)
    render_emulator.clear_requests()

    events = await wait_all(conn_id, task_ids)

    assert [event["status"] for event in events] == ["success"] * WAITS
    batches, singles = reads_in_log(render_emulator)
    task_reads = sum(len(entry["task_id"].split(",")) for entry in batches) + len(singles)
    assert batches, "no batch read was sent"
    assert max(len(entry["task_id"].split(",")) for entry in batches) > 1
    assert len(batches) + len(singles) < task_reads / 2, "batching did not at least halve the requests"
    assert all(entry["status"] == 200 for entry in batches + singles)


async def test_a_task_missing_from_the_batch_answer_is_read_alone_and_ends_as_not_found(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator
) -> None:
    conn_id = batch_conn(batch_reads="on")  # on: even a lone read goes through the batch call first
    task_ids = create_tasks(conn_id, 3)
    render_emulator.clear_requests()

    events = await wait_all(conn_id, [*task_ids, MISSING])

    assert [event["status"] for event in events] == ["success"] * 3 + ["error"]
    assert (events[-1]["error_code"], events[-1]["retryable"]) == ("task_not_found", False)
    batches, singles = reads_in_log(render_emulator)
    assert batches
    assert all(MISSING not in (entry["task_id"] or "") for entry in batches)
    assert [entry["status"] for entry in singles if entry["path"].endswith(MISSING)] == [404]


async def test_a_404_from_the_batch_route_turns_batching_off_once_and_every_wait_completes(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    conn_id = batch_conn()
    task_ids = create_tasks(conn_id, WAITS)
    render_emulator.clear_requests()
    render_emulator.set_faults(rate_batch_404=1.0)  # a service without the batch read

    with caplog.at_level(logging.INFO, logger="airflow_provider_evolink.triggers.coalescer"):
        events = await wait_all(conn_id, task_ids)

    assert [event["status"] for event in events] == ["success"] * WAITS
    batches, singles = reads_in_log(render_emulator)
    assert [entry["status"] for entry in batches] == [404]  # tried once, then never again in this process
    assert len(singles) >= WAITS
    assert all(entry["status"] == 200 for entry in singles)
    assert len([r for r in caplog.records if "batch reads" in r.getMessage()]) == 1


async def test_the_batch_route_killed_mid_run_loses_no_wait(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator
) -> None:
    conn_id = batch_conn()
    task_ids = create_tasks(conn_id, WAITS)
    render_emulator.clear_requests()

    async def kill_the_route_after_the_first_batch() -> None:
        while not reads_in_log(render_emulator)[0]:
            await asyncio.sleep(0.02)
        render_emulator.set_faults(rate_batch_404=1.0)

    killer = asyncio.create_task(kill_the_route_after_the_first_batch())
    events = await wait_all(conn_id, task_ids)
    await killer

    assert [event["status"] for event in events] == ["success"] * WAITS
    batches, _ = reads_in_log(render_emulator)
    assert next(entry["status"] for entry in batches) == 200
    assert batches[-1]["status"] == 404
    assert [entry["status"] for entry in batches].count(404) == 1


async def test_batch_reads_off_reads_every_task_alone(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator
) -> None:
    conn_id = batch_conn(batch_reads="off")
    task_ids = create_tasks(conn_id, 4)
    render_emulator.clear_requests()

    events = await wait_all(conn_id, task_ids)

    assert [event["status"] for event in events] == ["success"] * 4
    batches, singles = reads_in_log(render_emulator)
    assert batches == []
    assert len(singles) >= 4


async def test_a_429_on_the_batch_read_pauses_every_read_of_the_connection_for_its_retry_after(
    batch_conn: Callable[..., str], render_emulator: EvoLinkEmulator
) -> None:
    conn_id = batch_conn(max_retries=5, batch_reads="on")  # on: every read is a batch read, the 429 hits one
    task_ids = create_tasks(conn_id, WAITS)
    render_emulator.clear_requests()

    async def rate_limit_after_the_first_batch() -> None:
        while not reads_in_log(render_emulator)[0]:
            await asyncio.sleep(0.02)
        render_emulator.set_faults(rate_429=1.0, retry_after_seconds=1, duration_seconds=0.3)

    limiter = asyncio.create_task(rate_limit_after_the_first_batch())
    events = await wait_all(conn_id, task_ids)
    await limiter

    assert [event["status"] for event in events] == ["success"] * WAITS
    log = [entry for entry in render_emulator.requests() if entry["path"].startswith("/v1/tasks")]
    limited = [entry for entry in log if entry["status"] == 429]
    assert limited
    assert {entry["path"] for entry in limited} == {"/v1/tasks/batch"}
    first = limited[0]["time"]
    # In flight before the 429 came back: at most one request per batch slot; then silence for Retry-After.
    quiet = [entry for entry in log if first + 0.1 < entry["time"] < first + 0.9]
    assert quiet == [], quiet


# --------------------------------------------------------------------------------- precise edge cases
class StandInHook:
    """``aread_tasks``/``aget_task`` of a hook, scripted: the batch raises ``batch_error`` or answers every task it
    knows; single reads answer every task it knows, else 404."""

    def __init__(self, known: set[str], batch_error: Exception | None = None) -> None:
        self.known = known
        self.batch_error = batch_error
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    async def aread_tasks(self, ids: list[str]) -> dict[str, TaskDetail]:
        self.batches.append(ids)
        if self.batch_error is not None:
            raise self.batch_error
        return {task_id: _processing(task_id) for task_id in ids if task_id in self.known}

    async def aget_task(self, evolink_task_id: str) -> TaskDetail:
        self.singles.append(evolink_task_id)
        if evolink_task_id not in self.known:
            raise EvoLinkNotFoundError(404, code="task_not_found")
        return _processing(evolink_task_id)


def _processing(evolink_task_id: str) -> TaskDetail:
    return TaskDetail.model_validate({"id": evolink_task_id, "status": "processing", "progress": 40})


async def _read_together(coalescer: ReadCoalescer, hook: StandInHook, ids: list[str]) -> list[Any]:
    reads = [coalescer.read(hook, task_id) for task_id in ids]  # type: ignore[arg-type]
    return await asyncio.gather(*reads, return_exceptions=True)


@pytest.mark.parametrize(
    "error",
    [
        EvoLinkNotFoundError(404),
        EvoLinkAPIError(405),
        EvoLinkResponseError("unexpected answer to POST /v1/tasks/batch: data: Field required"),
    ],
    ids=["404", "405", "another shape"],
)
async def test_a_service_without_the_batch_read_turns_batching_off_and_every_read_is_answered(error: Exception) -> None:
    coalescer, hook = ReadCoalescer(), StandInHook({"task-unified-a", "task-unified-b"}, batch_error=error)

    results = await _read_together(coalescer, hook, ["task-unified-a", "task-unified-b"])

    assert [result.id for result in results] == ["task-unified-a", "task-unified-b"]
    assert coalescer.batching is False
    assert sorted(hook.singles) == ["task-unified-a", "task-unified-b"]


async def test_a_400_on_the_batch_read_reads_each_alone_and_keeps_batching() -> None:
    coalescer, hook = ReadCoalescer(), StandInHook({"task-unified-a"}, batch_error=EvoLinkBadRequestError(400))

    ok, missing = await _read_together(coalescer, hook, ["task-unified-a", "task-unified-zz"])

    assert ok.id == "task-unified-a"
    assert isinstance(missing, EvoLinkNotFoundError)  # only the wait of the refused ID hears about it
    assert coalescer.batching is True


async def test_a_batch_read_failing_after_its_retries_fails_each_read_of_the_batch_with_that_error() -> None:
    failure = EvoLinkServerError(503, code="service_unavailable")
    coalescer, hook = ReadCoalescer(), StandInHook({"task-unified-a", "task-unified-b"}, batch_error=failure)

    results = await _read_together(coalescer, hook, ["task-unified-a", "task-unified-b"])

    assert results == [failure, failure]  # each wait's outage tolerance takes it, as a single read's
    assert coalescer.batching is True
    assert hook.singles == []


async def test_the_reads_of_one_loop_iteration_go_fifty_per_call_and_a_lone_one_goes_alone() -> None:
    coalescer = ReadCoalescer()
    ids = [f"task-unified-{n:02d}" for n in range(51)]
    hook = StandInHook(set(ids))

    results = await _read_together(coalescer, hook, ids)

    assert [result.id for result in results] == ids
    assert hook.batches == [ids[:50]]  # the 50th filled a batch at once
    assert hook.singles == [ids[50]]  # the 51st went alone in the next iteration: no batch call for one task


def test_a_read_is_pulled_to_the_last_batch_line_before_it_is_due_only_while_other_waits_wait() -> None:
    coalescer = ReadCoalescer()

    assert coalescer.pulled(100.0, 10.0, 100.0, 7.2) == 10.0  # nobody else waits: exactly on its pace
    coalescer.planned = 3
    assert coalescer.pulled(100.0, 10.0, 100.0, 7.2) == pytest.approx(108.0 - 100.0)  # line 15 x 7.2 = 108
    assert coalescer.pulled(100.0, 10.0, 108.5, 7.2) == 10.0  # the line comes before the soonest it may
    assert coalescer.pulled(100.0, 10.0, None, 7.2) == 10.0  # no soonest time: never early
    assert coalescer.pulled(100.0, 10.0, 101.0, 7.2) == pytest.approx(8.0)  # after a 1 s backoff: onto line 108


class PausedHook(StandInHook):
    """A stand-in hook whose shared client is paused by a ``Retry-After`` until ``resume`` is set."""

    def __init__(self, known: set[str]) -> None:
        super().__init__(known)
        self.resume = asyncio.Event()

    async def asettings(self) -> Any:
        return SimpleNamespace(batch_reads="auto", base_url="http://evolink.test", api_key="sk-paused")

    async def await_pause(self) -> None:
        await self.resume.wait()


async def test_reads_coming_due_in_a_retry_after_pause_go_out_in_one_batch_when_it_ends() -> None:
    ids = [f"task-unified-{n}" for n in range(5)]
    hook = PausedHook(set(ids))
    # Due 10, 20, ... 50 ms from now, on no common line: each would go alone without the pause.
    reads = [
        asyncio.create_task(paced_read(hook, task_id, 0.01 * (n + 1), earliest=None, line=1.0))  # type: ignore[arg-type]
        for n, task_id in enumerate(ids)
    ]
    await asyncio.sleep(0.1)
    assert hook.batches == []  # nothing is sent while the client is paused
    assert hook.singles == []

    hook.resume.set()
    results = await asyncio.gather(*reads)

    assert [detail.id for detail, _ in results] == ids
    assert hook.batches == [ids]
    assert hook.singles == []
