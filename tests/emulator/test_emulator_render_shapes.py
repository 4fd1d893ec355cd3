"""Render times, estimates and progress shapes of the emulator, over real HTTP (what the read pacing must face)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator

StartEmulator = Callable[..., tuple[EvoLinkEmulator, httpx.Client]]
CREATE = "/v1/videos/generations"


def create(api: httpx.Client, o3_body: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    response = api.post(CREATE, json=o3_body())
    assert response.status_code == 200
    task: dict[str, Any] = response.json()
    return task


def watch(api: httpx.Client, task_ids: list[str], limit: float = 10.0) -> dict[str, list[tuple[float, int]]]:
    """``(seconds since the start, progress)`` of every read of each task, every 20 ms until all are completed."""
    start = time.monotonic()
    seen: dict[str, list[tuple[float, int]]] = {task_id: [] for task_id in task_ids}
    pending = set(task_ids)
    while pending and time.monotonic() - start < limit:
        for task_id in list(pending):
            detail = api.get(f"/v1/tasks/{task_id}").json()
            seen[task_id].append((time.monotonic() - start, detail["progress"]))
            if detail["status"] == "completed":
                pending.discard(task_id)
        time.sleep(0.02)
    assert not pending, "tasks did not complete"
    return seen


@pytest.mark.parametrize(("factor", "estimated_time"), [(1.0, 30), (10 / 3, 100), (1 / 3, 10)])
def test_estimated_time_is_the_processing_time_times_the_estimate_factor(
    make_emulator: StartEmulator, o3_body: Callable[..., dict[str, Any]], factor: float, estimated_time: int
) -> None:
    _, api = make_emulator(processing_seconds=30, estimate_factor=factor)

    assert create(api, o3_body)["task_info"]["estimated_time"] == estimated_time


def test_render_times_are_drawn_from_a_spread_around_the_processing_time(
    make_emulator: StartEmulator, o3_body: Callable[..., dict[str, Any]]
) -> None:
    def completion_times(spread: float) -> list[float]:
        _, api = make_emulator(processing_seconds=0.6, processing_spread=spread, seed=3)
        seen = watch(api, [create(api, o3_body)["id"] for _ in range(8)])
        return [reads[-1][0] for reads in seen.values()]

    spread, exact = completion_times(0.5), completion_times(0.0)

    assert max(spread) - min(spread) > 0.25
    assert max(exact) - min(exact) < 0.2


def test_done_at_is_when_reads_start_to_see_the_task_completed(
    make_emulator: StartEmulator, o3_body: Callable[..., dict[str, Any]]
) -> None:
    emu, api = make_emulator(processing_seconds=0.5, processing_spread=0.5, seed=1)
    task_id = create(api, o3_body)["id"]
    done_at = emu.done_at(task_id)

    before = api.get(f"/v1/tasks/{task_id}").json()["status"]
    time.sleep(max(0.0, done_at - time.time()) + 0.01)
    after = api.get(f"/v1/tasks/{task_id}").json()["status"]

    assert before in {"pending", "processing"}
    assert after == "completed"
    with pytest.raises(KeyError):
        emu.done_at("task-unified-0-unknown0")


@pytest.mark.parametrize(
    ("mode", "allowed"),
    [("linear", set(range(100))), ("stuck", {0}), ("jumps", {0, 25, 50, 75})],
)
def test_progress_rises_linearly_stays_at_zero_or_jumps_in_quarters(
    make_emulator: StartEmulator, o3_body: Callable[..., dict[str, Any]], mode: str, allowed: set[int]
) -> None:
    _, api = make_emulator(processing_seconds=1.0, progress_mode=mode)

    [reads] = watch(api, [create(api, o3_body)["id"]]).values()
    progress = [value for _, value in reads]

    assert progress[-1] == 100
    assert set(progress[:-1]) <= allowed
    assert progress == sorted(progress)
    if mode == "linear":
        assert len({value for value in progress if 0 < value < 100}) >= 5
    if mode == "jumps":
        assert {25, 50, 75} <= set(progress)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"processing_spread": -0.1}, "processing_spread"),
        ({"estimate_factor": 0}, "estimate_factor"),
        ({"progress_mode": "sideways"}, "progress_mode"),
    ],
)
def test_bad_render_settings_are_refused_naming_them(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        EvoLinkEmulator(**settings)
