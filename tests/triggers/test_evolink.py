"""EvoLinkTaskTrigger and the EvoLinkTaskEvent contract: serialisation, every terminal event, polling rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import BaseHook
from fakes import VirtualTime
from structlog.testing import capture_logs

from airflow_provider_evolink.compat import (
    AirflowException,
    AirflowFailException,
    deserialize_trigger_kwargs,
    serialize_trigger_kwargs,
)
from airflow_provider_evolink.exceptions import (
    EvoLinkAuthenticationError,
    EvoLinkConfigError,
    EvoLinkNotFoundError,
    EvoLinkRateLimitError,
    EvoLinkServerError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import TaskDetail
from airflow_provider_evolink.pacing import GRID
from airflow_provider_evolink.triggers.evolink import EvoLinkTaskEvent, EvoLinkTaskTrigger

TASK_ID = "task-unified-1700000000-abcdefgh"
RESULT_URL = "https://cdn.example.com/videos/out.mp4?sig=secret"
O3_REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a red fox in the snow", "duration": 5}
EVENT_KEYS = {"status", "evolink_task_id", "error_code", "retryable", "message"}


def make_trigger(evolink_task_id: str = TASK_ID, conn_id: str = "evolink_default", **kwargs: Any) -> EvoLinkTaskTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("end_time", time.time() + 30)
    return EvoLinkTaskTrigger(evolink_task_id, conn_id, **kwargs)


async def run_to_events(trigger: EvoLinkTaskTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def create_task(prompt: str = O3_REQUEST["prompt"]) -> str:
    hook = EvoLinkHook()
    try:
        return hook.create_video_generation({**O3_REQUEST, "prompt": prompt}).id
    finally:
        hook.close()


# ------------------------------------------------------------------------------------------ serialisation
def test_serialize_round_trips_through_airflow_serde_with_the_same_deadline() -> None:
    end_time = time.time() + 3600
    trigger = make_trigger(poll_interval=8.0, end_time=end_time, estimated_time=300, adaptive_polling=False)
    classpath, kwargs = trigger.serialize()

    restored_kwargs = deserialize_trigger_kwargs(serialize_trigger_kwargs(kwargs))
    restored = EvoLinkTaskTrigger(**restored_kwargs)

    assert classpath == "airflow_provider_evolink.triggers.evolink.EvoLinkTaskTrigger"
    assert restored.serialize() == (classpath, kwargs)
    assert restored.end_time == end_time
    assert (restored.estimated_time, restored.adaptive_polling) == (300.0, False)
    assert all(isinstance(value, str | int | float | bool) for value in kwargs.values())


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"evolink_task_id": " "}, "evolink_task_id"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"end_time": "tomorrow"}, "end_time"),
        ({"estimated_time": 0}, "estimated_time"),
        ({"adaptive_polling": "no"}, "adaptive_polling"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        make_trigger(**kwargs)


# ----------------------------------------------------------------------------------------- event contract
def test_event_payload_round_trips_through_parse_and_serde() -> None:
    event = EvoLinkTaskEvent("failed", TASK_ID, "service_error", True, "EvoLink task failed")

    payload = deserialize_trigger_kwargs(serialize_trigger_kwargs(event.to_payload()))

    assert set(payload) == EVENT_KEYS
    assert EvoLinkTaskEvent.parse(payload) == event


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "success",
        {"status": "done", "evolink_task_id": TASK_ID},
        {"status": "success"},
        {"status": "failed", "evolink_task_id": TASK_ID, "retryable": "yes"},
    ],
)
def test_parse_refuses_a_missing_or_malformed_event(payload: Any) -> None:
    with pytest.raises(AirflowException) as raised:
        EvoLinkTaskEvent.parse(payload)
    assert not isinstance(raised.value, AirflowFailException)


@pytest.mark.parametrize(
    ("status", "retryable", "expected"),
    [
        ("failed", False, AirflowFailException),
        ("cancelled", False, AirflowFailException),
        ("error", False, AirflowFailException),
        ("failed", True, AirflowException),
        ("timeout", True, AirflowException),
        ("error", True, AirflowException),
    ],
)
def test_raise_for_status_spends_no_retries_on_what_cannot_succeed(
    status: str, retryable: bool, expected: type[Exception]
) -> None:
    event = EvoLinkTaskEvent.parse(
        {"status": status, "evolink_task_id": TASK_ID, "error_code": "x", "retryable": retryable, "message": "why"}
    )
    with pytest.raises(AirflowException, match="why") as raised:
        event.raise_for_status()
    assert type(raised.value) is expected


def test_success_event_raises_nothing() -> None:
    EvoLinkTaskEvent("success", TASK_ID).raise_for_status()


@pytest.mark.parametrize(
    ("detail", "status", "error_code", "retryable"),
    [
        ({"status": "completed", "results": [RESULT_URL]}, "success", None, False),
        (
            {"status": "failed", "error": {"code": "content_policy_violation", "message": "no"}},
            "failed",
            "content_policy_violation",
            False,
        ),
        ({"status": "failed", "error": {"code": "service_error", "message": "busy"}}, "failed", "service_error", True),
        ({"status": "cancelled"}, "cancelled", None, False),
    ],
)
def test_a_terminal_detail_becomes_an_event_without_result_urls(
    detail: dict[str, Any], status: str, error_code: str | None, retryable: bool
) -> None:
    event = EvoLinkTaskEvent.from_detail(TaskDetail.model_validate({"id": TASK_ID, **detail}))

    assert event is not None
    assert (event.status, event.error_code, event.retryable) == (status, error_code, retryable)
    assert "cdn.example.com" not in repr(event.to_payload())


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_a_running_detail_is_no_event(status: str) -> None:
    assert EvoLinkTaskEvent.from_detail(TaskDetail.model_validate({"id": TASK_ID, "status": status})) is None


# ------------------------------------------------------------------------------- runs against the emulator
async def test_trigger_fires_success_for_a_completed_task_and_carries_no_result_url(emulator: Any) -> None:
    evolink_task_id = create_task()

    events = await run_to_events(make_trigger(evolink_task_id))

    assert events == [
        {
            "status": "success",
            "evolink_task_id": evolink_task_id,
            "error_code": None,
            "retryable": False,
            "message": f"EvoLink task {evolink_task_id} completed",
        }
    ]


async def test_trigger_fires_failed_with_the_task_error_code(emulator: Any) -> None:
    evolink_task_id = create_task("a fox [fail:content_policy_violation]")

    [event] = await run_to_events(make_trigger(evolink_task_id))

    assert event["status"] == "failed"
    assert event["error_code"] == "content_policy_violation"
    assert event["retryable"] is False


async def test_trigger_fires_timeout_at_the_deadline_saying_the_task_may_still_complete(
    slow_emulator: Any, slow_conn_id: str
) -> None:
    hook = EvoLinkHook(slow_conn_id)
    evolink_task_id = hook.create_video_generation(O3_REQUEST).id
    hook.close()

    [event] = await run_to_events(make_trigger(evolink_task_id, slow_conn_id, end_time=time.time() + 0.3))

    assert event["status"] == "timeout"
    assert event["retryable"] is True
    assert "no cancel endpoint" in event["message"]
    assert evolink_task_id in event["message"]


async def test_trigger_fires_error_at_once_for_an_unknown_task(emulator: Any) -> None:
    before = len(emulator.requests())

    [event] = await run_to_events(make_trigger("task-unified-0-doesnotexist"))

    assert event["status"] == "error"
    assert event["retryable"] is False
    assert len(emulator.requests()) - before == 1


async def test_trigger_fires_error_for_a_rejected_api_key_without_leaking_it(
    emulator: Any, evolink_connection: Callable[..., str]
) -> None:
    evolink_connection(emulator.base_url, "sk-wrong-key", "evolink_badkey", max_retries=0)

    [event] = await run_to_events(make_trigger(TASK_ID, "evolink_badkey"))

    assert event["status"] == "error"
    assert event["retryable"] is False
    assert "sk-wrong-key" not in repr(event)


async def test_trigger_never_uses_the_sync_client_or_sync_connection_lookup(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    evolink_task_id = create_task()

    def blocking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sync I/O inside the triggerer's event loop")

    monkeypatch.setattr(EvoLinkHook, "get_conn", blocking)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(blocking))

    [event] = await run_to_events(make_trigger(evolink_task_id))

    assert event["status"] == "success"


async def test_trigger_releases_the_shared_async_client_when_done(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[EvoLinkHook] = []
    original_aclose = EvoLinkHook.aclose

    async def aclose(self: EvoLinkHook) -> None:
        closed.append(self)
        await original_aclose(self)

    monkeypatch.setattr(EvoLinkHook, "aclose", aclose)

    await run_to_events(make_trigger(create_task()))

    assert len(closed) == 1


# ------------------------------------------------------------------------------------------ polling rules
async def test_trigger_fires_cancelled_as_a_terminal_event(scripted_reads: Callable[..., list[str]]) -> None:
    scripted_reads({"status": "processing"}, {"status": "cancelled"})

    [event] = await run_to_events(make_trigger())

    assert event["status"] == "cancelled"
    assert event["retryable"] is False


@pytest.fixture
def tolerant_connection(evolink_connection: Callable[..., str]) -> str:
    """``evolink_default`` with the default outage tolerance (reads are scripted: the host is never called)."""
    return evolink_connection("https://api.evolink.test", "sk-test")


@pytest.mark.usefixtures("tolerant_connection")
async def test_transient_errors_are_tolerated_and_the_span_restarts_after_a_good_read(
    scripted_reads: Callable[..., list[str]], virtual_time: VirtualTime
) -> None:
    reads = scripted_reads(
        EvoLinkServerError(503),
        EvoLinkTransportError("dropped"),
        {"status": "processing", "progress": 10},
        EvoLinkServerError(502),
        EvoLinkTransportError("dropped"),
        {"status": "completed", "results": [RESULT_URL]},
    )

    [event] = await run_to_events(make_trigger())

    assert event["status"] == "success"
    assert len(reads) == 6


@pytest.mark.usefixtures("tolerant_connection")
async def test_every_read_starts_on_a_grid_line_even_after_a_slow_failed_read(
    monkeypatch: pytest.MonkeyPatch, virtual_time: VirtualTime
) -> None:
    # Triggers of one triggerer wake on shared grid lines (GRID x poll_interval on the loop's clock), so reads
    # due about the same time share a loop iteration. The wait after a read is drawn when the read has ended:
    # one drawn before it would be off the grid by the read's own time.
    steps: list[dict[str, Any] | BaseException] = [
        EvoLinkServerError(503),
        {"status": "processing", "progress": 10, "created": int(time.time()) - 30},
        EvoLinkTransportError("dropped"),
        {"status": "completed", "results": [RESULT_URL]},
    ]
    started: list[float] = []

    async def slow_read(self: EvoLinkHook, evolink_task_id: str) -> TaskDetail:
        started.append(virtual_time.now)
        virtual_time.now += 0.37  # the answer takes a while
        step = steps[len(started) - 1]
        if isinstance(step, BaseException):
            raise step
        return TaskDetail.model_validate({"id": evolink_task_id, **step})

    monkeypatch.setattr(EvoLinkHook, "aget_task", slow_read)

    [event] = await run_to_events(make_trigger(poll_interval=8.0, end_time=time.time() + 3600))

    assert event["status"] == "success"
    assert len(started) == 4
    lines = [at / (GRID * 8.0) for at in started]
    assert all(abs(line - round(line)) < 1e-6 for line in lines), started


@pytest.mark.usefixtures("tolerant_connection")
async def test_a_ten_minute_outage_is_outlasted_with_backoff_that_honours_retry_after(
    scripted_reads: Callable[..., list[str]], virtual_time: VirtualTime
) -> None:
    storm = EvoLinkRateLimitError(429, code="rate_limit_exceeded", retry_after=20.0)
    steps: list[dict[str, Any] | BaseException] = [storm] * 32 + [{"status": "completed", "results": [RESULT_URL]}]
    reads = scripted_reads(*steps)

    with capture_logs() as logs:
        [event] = await run_to_events(make_trigger(poll_interval=8.0, end_time=time.time() + 3600))

    assert event["status"] == "success"
    assert len(reads) == 33
    assert virtual_time.now >= 620  # 32 failed reads, 20 s apart (Retry-After): over ten minutes
    assert all(wait >= 20.0 for wait in virtual_time.waits[1:33])
    failing = [entry["event"] for entry in logs if "has been failing for" in str(entry.get("event"))]
    assert len(failing) == 32
    assert "has been failing for 620 s" in failing[-1]  # says how long


@pytest.mark.usefixtures("tolerant_connection")
async def test_an_outage_longer_than_the_tolerance_ends_with_a_retryable_error_saying_how_long(
    scripted_reads: Callable[..., list[str]], virtual_time: VirtualTime
) -> None:
    reads = scripted_reads(EvoLinkServerError(503, message="upstream overloaded"))

    [event] = await run_to_events(make_trigger(poll_interval=8.0, end_time=time.time() + 3600))

    assert event["status"] == "error"
    assert event["retryable"] is True
    assert "gave up after failing for 9" in event["message"]  # the default tolerance: 900 s
    assert 900 <= virtual_time.now <= 1000
    assert len(reads) > 10


@pytest.mark.usefixtures("tolerant_connection")
async def test_an_outage_at_the_deadline_ends_with_a_timeout(scripted_reads: Callable[..., list[str]]) -> None:
    scripted_reads(EvoLinkServerError(503))

    [event] = await run_to_events(make_trigger(poll_interval=0.05, end_time=time.time() + 0.5))

    assert event["status"] == "timeout"


@pytest.mark.parametrize(
    "error",
    [
        EvoLinkAuthenticationError(401, code="unauthorized"),
        EvoLinkNotFoundError(404, code="task_not_found"),
        EvoLinkConfigError("EvoLink connection 'evolink_default' has no API key"),
    ],
)
async def test_a_permanent_error_ends_the_wait_at_the_first_read(
    scripted_reads: Callable[..., list[str]], error: Exception
) -> None:
    reads = scripted_reads(error)

    [event] = await run_to_events(make_trigger())

    assert event["status"] == "error"
    assert event["retryable"] is False
    assert len(reads) == 1


async def test_an_unexpected_exception_becomes_an_error_event_without_its_text(
    scripted_reads: Callable[..., list[str]],
) -> None:
    scripted_reads(RuntimeError(f"bug while reading {RESULT_URL}"))

    [event] = await run_to_events(make_trigger())

    assert event["status"] == "error"
    assert event["error_code"] == "unexpected_error"
    assert "RuntimeError" in event["message"]
    assert RESULT_URL not in event["message"]


async def test_a_deadline_already_past_fires_timeout_without_reading(
    scripted_reads: Callable[..., list[str]],
) -> None:
    reads = scripted_reads({"status": "processing"})

    [event] = await run_to_events(make_trigger(end_time=time.time() - 1))

    assert event["status"] == "timeout"
    assert reads == []


def read_spacing(monkeypatch: pytest.MonkeyPatch, clock: VirtualTime) -> list[float]:
    """Seconds from the start to the first read, then between reads (filled as the scripted reads happen): a lone
    wait's coalescer may split a wait in two sleeps, the reads keep the pace."""
    spacing: list[float] = []
    last = [clock.now]
    scripted = EvoLinkHook.aget_task

    async def timed(self: EvoLinkHook, evolink_task_id: str) -> TaskDetail:
        spacing.append(round(clock.now - last[0], 9))  # the float sums of the clock, not a pace
        last[0] = clock.now
        return await scripted(self, evolink_task_id)

    monkeypatch.setattr(EvoLinkHook, "aget_task", timed)
    return spacing


async def test_fixed_interval_polling_waits_a_random_fraction_first_and_later_the_interval_with_jitter(
    scripted_reads: Callable[..., list[str]], virtual_time: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_reads(*[{"status": "processing"}] * 4, {"status": "completed", "results": [RESULT_URL]})
    spacing = read_spacing(monkeypatch, virtual_time)

    await run_to_events(make_trigger(poll_interval=8.0, end_time=time.time() + 3600, adaptive_polling=False))

    first, *later = spacing
    assert 0 <= first <= 8.0
    assert len(later) == 4
    assert all(7.2 <= delay <= 8.8 for delay in later)


async def test_reads_are_paced_by_progress_and_never_closer_than_the_interval_unless_switched_to_fixed(
    scripted_reads: Callable[..., list[str]], virtual_time: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = int(time.time()) - 100  # 100 s into a 300 s render: 30 %, then 60 %, 90 %, done
    steps = [{"status": "processing", "progress": p, "created": created} for p in (30, 60, 90)]
    done = {"status": "completed", "results": [RESULT_URL], "created": created}

    scripted_reads(*steps, done)
    spacing = read_spacing(monkeypatch, virtual_time)
    await run_to_events(make_trigger(poll_interval=8.0, end_time=time.time() + 3600, estimated_time=300))
    adaptive = spacing[1:]
    scripted_reads(*steps, done)
    spacing = read_spacing(monkeypatch, virtual_time)
    await run_to_events(
        make_trigger(poll_interval=8.0, end_time=time.time() + 3600, estimated_time=300, adaptive_polling=False)
    )
    fixed = spacing[1:]

    # 30 % after ~100 s: ~233 s left, half of it capped at 6 intervals; 90 %: ~11 s left, so the interval.
    assert len(adaptive) == len(fixed) == 3
    assert 6 * 8.0 * 0.9 <= adaptive[0] <= 6 * 8.0 * 1.1
    assert all(delay >= 8.0 * 0.9 for delay in adaptive)
    assert adaptive[-1] <= 8.0 * 1.1
    assert all(8.0 * 0.9 <= delay <= 8.0 * 1.1 for delay in fixed)


async def test_progress_is_logged_per_status_or_quarter_change_not_per_read(
    scripted_reads: Callable[..., list[str]],
) -> None:
    running = {"status": "processing", "progress": 30, "task_info": {"estimated_time": 180}}
    scripted_reads(
        {"status": "pending", "progress": 0},
        running,
        running,
        {**running, "progress": 45},
        {**running, "progress": 70},
        {"status": "completed", "results": [RESULT_URL]},
    )

    with capture_logs() as logs:
        await run_to_events(make_trigger())

    messages = [log["event"] for log in logs]
    assert [message for message in messages if "progress " in message] == [
        f"EvoLink task {TASK_ID}: pending, progress 0%",
        f"EvoLink task {TASK_ID}: processing, progress 30%, ~180 s estimated",
        f"EvoLink task {TASK_ID}: processing, progress 70%, ~180 s estimated",
    ]
    assert not any(RESULT_URL in message for message in messages)
    assert not any(message.endswith(": success") for message in messages)  # the triggerer logs the event


async def test_on_kill_says_the_remote_task_cannot_be_cancelled() -> None:
    with capture_logs() as logs:
        await make_trigger().on_kill()

    [warning] = logs
    assert "no cancel endpoint" in warning["event"]
    assert TASK_ID in warning["event"]
