"""Bad input never escapes as anything but a documented error, never hangs, never crashes the trigger.

* Request dicts (hypothesis) into ``parse_request``: a request model or ``pydantic.ValidationError``, nothing else;
  an accepted request serialises to strict JSON and re-validates to the same body.
* Answers to the API calls (hypothesis: arbitrary JSON and non-JSON bodies, HTML 502s, truncated JSON, unknown
  statuses, missing ``id``, ``completed`` with empty ``results``, ``progress`` past 100, any status code):
  through the sync hook (respx), the async hook and the trigger (a raw loopback server, so the bytes reach
  aiohttp's real HTTP parser, including answers that are not HTTP at all). The hook returns a valid model or
  raises an ``EvoLinkError``; the trigger fires exactly one well-formed event, never ``unexpected_error`` (which
  would mean a raw exception reached its last line of defence), within a bound.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_evolink import retry
from airflow_provider_evolink.exceptions import (
    EvoLinkError,
    EvoLinkResponseError,
    EvoLinkServerError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models import (
    EvoLinkRequest,
    KlingO3ImageToVideoRequest,
    KlingO3ReferenceToVideoRequest,
    KlingV3MotionControlRequest,
    SeedanceReferenceToVideoRequest,
    TaskDetail,
    TaskStatus,
    VideoGenerationTask,
    estimate_credits,
    parse_request,
)
from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

from .conftest import RawHTTPServer, http_response

API_KEY = "sk-reliability-bad-input-0123456789"
BASE = "https://api.evolink.test"
TASK_ID = "task-unified-1757169743-7cvnl5zw"
RESULT_URL = "https://cdn.evolink.test/out.mp4?sig=SIGNED"
EVENT_STATUSES = {"success", "failed", "cancelled", "timeout", "error"}
#: Bounds every trigger run: far above what any single answer needs, far below a hang.
TRIGGER_BOUND_SECONDS = 10.0

FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ------------------------------------------------------------------------------------------ strategies
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
#: JSON numbers a parser reads as floats out of range (``1e400`` is valid JSON and reads as infinity).
huge_numbers = st.sampled_from([1e400, -1e400, 1e308, 10**400, 2**63, -(2**63)])


def _request_fields() -> list[str]:
    names: set[str] = set()
    for model in (
        KlingO3ReferenceToVideoRequest,
        KlingV3MotionControlRequest,
        SeedanceReferenceToVideoRequest,
        KlingO3ImageToVideoRequest,
    ):
        names |= set(model.model_fields)
    return sorted(names)


request_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "https://cdn.example.com/ref.mp4",
            "http://[::1",
            "https://127.0.0.1/cb",
            "https://\x00/",
            "ftp://x/y",
            "16:9",
            "4k",
            "1080p",
            "9" * 5000,
            "",
        ]
    ),
    st.lists(st.sampled_from(["https://cdn.example.com/a.jpg", "not a url", ""]), max_size=6),
    st.fixed_dictionaries(
        {},
        optional={
            "multi_shot": json_scalars,
            "shot_type": st.sampled_from(["customize", "auto", None]),
            "multi_prompt": st.lists(
                st.fixed_dictionaries(
                    {}, optional={"index": json_scalars, "prompt": json_scalars, "duration": json_scalars}
                ),
                max_size=7,
            ),
            "element_list": st.lists(st.fixed_dictionaries({}, optional={"element_id": json_scalars}), max_size=2),
            "character_orientation": st.sampled_from(["image", "video", "sideways", None]),
            "watermark_info": json_values,
            "keep_sound": json_scalars,
            "web_search": json_scalars,
        },
    ),
)
_NO_MODEL = object()
request_dicts = st.dictionaries(
    st.sampled_from(_request_fields()) | st.text(max_size=12), request_values, max_size=10
).flatmap(
    lambda fields: st.sampled_from(
        [
            "kling-o3-reference-to-video",
            "kling-v3-motion-control",
            "seedance-2.0-text-to-video",
            "seedance-2.0-fast-reference-to-video",
            "kling-o3-image-to-video",
            "kling-v3-text-to-video",
            "some-other-model",
            "",
            None,
            5,
            _NO_MODEL,
        ]
    ).map(lambda model: fields if model is _NO_MODEL else {**fields, "model": model})
)

statuses = st.one_of(
    st.sampled_from(["pending", "processing", "completed", "failed", "cancelled"]),
    st.sampled_from(["queued", "COMPLETED", "succeeded", "", "unknown"]),
    json_scalars,
)
#: Mostly well-formed task details with some fields broken: a fully random dict rarely gets far enough to
#: reach the per-field validators.
task_details = st.fixed_dictionaries(
    {
        "id": st.one_of(st.just(TASK_ID), st.just(TASK_ID), st.text(max_size=12), st.integers(), st.none()),
        "status": st.one_of(st.sampled_from(["pending", "processing", "completed", "failed", "cancelled"]), statuses),
    },
    optional={
        "progress": st.one_of(st.integers(-1000, 1000), huge_numbers, json_scalars),
        "results": st.one_of(st.lists(st.just(RESULT_URL), min_size=1, max_size=2), st.just([]), json_values),
        "error": st.one_of(
            st.none(),
            st.text(max_size=10),
            st.fixed_dictionaries(
                {},
                optional={
                    "code": st.sampled_from(["content_policy_violation", "service_error"]) | json_scalars,
                    "message": json_scalars,
                    "type": json_scalars,
                },
            ),
        ),
        "task_info": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "estimated_time": st.one_of(json_scalars, huge_numbers),
                    "can_cancel": json_scalars,
                    "video_duration": st.one_of(json_scalars, huge_numbers),
                },
            ),
        ),
        "created": st.one_of(json_scalars, huge_numbers),
        "model": json_scalars,
        "usage": st.one_of(
            json_values, st.fixed_dictionaries({"credits_reserved": st.one_of(json_scalars, huge_numbers)})
        ),
    },
)
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def _json_bytes(value: Any) -> bytes:
    # Python's encoder writes 1e400 as "Infinity" (not JSON); spell it as the valid JSON number instead.
    return json.dumps(value).replace("-Infinity", "-1e400").replace("Infinity", "1e400").encode()


bodies = st.one_of(
    task_details.map(_json_bytes),
    json_values.map(_json_bytes),
    st.tuples(task_details.map(_json_bytes), st.integers(0, 300)).map(lambda pair: pair[0][: pair[1]]),
    st.just(HTML_502),
    st.binary(max_size=120),
    st.text(max_size=60).map(str.encode),
    st.just(b""),
)
status_codes = st.sampled_from(
    [200] * 6 + [201, 204, 301, 400, 401, 402, 403, 404, 409, 413, 418, 429, 500, 502, 503, 520]
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/html", "text/plain", ""])
retry_afters = st.sampled_from(["", "0", "1", "-5", "soon", "nan", "1e400", "Wed, 21 Oct 2015 07:28:00 GMT"])


# ------------------------------------------------------------------------------------------- helpers
def check_detail(detail: TaskDetail) -> None:
    """What the rest of the provider relies on when a read returns."""
    assert isinstance(detail.id, str)
    assert detail.id
    assert isinstance(detail.status, TaskStatus)
    assert isinstance(detail.progress, int)
    assert 0 <= detail.progress <= 100
    assert all(isinstance(url, str) for url in detail.results)
    if detail.status is TaskStatus.COMPLETED:
        assert detail.results


def check_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(events) == 1, f"the trigger fired {len(events)} events"
    (event,) = events
    assert set(event) == {"status", "evolink_task_id", "error_code", "retryable", "message"}
    assert event["status"] in EVENT_STATUSES
    assert event["evolink_task_id"] == TASK_ID
    assert isinstance(event["retryable"], bool)
    assert isinstance(event["message"], str)
    assert event["error_code"] is None or isinstance(event["error_code"], str)
    # An unexpected exception reached the trigger's catch-all: the hook leaked something not an EvoLinkError.
    assert event["error_code"] != "unexpected_error", event["message"]
    json.dumps(event, allow_nan=False)  # plain JSON types only: the event row is stored as JSON
    assert API_KEY not in json.dumps(event)
    return event


async def run_trigger(conn_id: str, *, end_in: float = 0.2) -> list[dict[str, Any]]:
    trigger = EvoLinkTaskTrigger(TASK_ID, conn_id, poll_interval=0.01, end_time=time.time() + end_in)

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), TRIGGER_BOUND_SECONDS)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def asleep(seconds: float) -> None:
        await asyncio.sleep(0)

    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    monkeypatch.setattr(retry, "asleep", asleep)


@pytest.fixture
def sync_hook(evolink_connection: Callable[..., str], no_sleep: None) -> Iterator[EvoLinkHook]:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "evolink_fuzz", max_retries=0))
    yield hook
    hook.close()


@pytest.fixture
def raw_conn(evolink_connection: Callable[..., str], raw_server: RawHTTPServer, no_sleep: None) -> str:
    # outage_tolerance=0: the trigger gives up on the second transient failure in a row.
    return evolink_connection(raw_server.base_url, API_KEY, "evolink_raw", max_retries=0, timeout=2, outage_tolerance=0)


# ------------------------------------------------------------------------------------------- requests
@FUZZ
@given(request=request_dicts)
def test_fuzzed_request_dicts_give_a_model_or_a_validation_error(request: dict[str, Any]) -> None:
    try:
        model = parse_request(request)
    except pydantic.ValidationError as error:
        problems = error.errors()
    else:
        problems = []
    if problems:
        return  # refused, naming the fields (any other exception fails the test)
    assert isinstance(model, EvoLinkRequest)
    body = model.to_api_json()
    json.dumps(body, allow_nan=False)  # what is sent is strict JSON
    # Validation is idempotent: the body re-validates, and from then on stays the same.
    again = parse_request(body).to_api_json()
    assert parse_request(again).to_api_json() == again
    estimate = estimate_credits(model)
    assert estimate is None or (math.isfinite(estimate) and estimate >= 0)


@pytest.mark.parametrize("request_value", [None, 5, "kling", ["model"], KlingO3ReferenceToVideoRequest])
def test_a_request_that_is_not_a_mapping_is_a_type_error_not_a_crash(request_value: Any) -> None:
    with pytest.raises(TypeError, match="request must be a dict"):
        parse_request(request_value)


# --------------------------------------------------------------------------------- sync hook (respx)
@FUZZ
@given(status=status_codes, body=bodies, content_type=content_types, retry_after=retry_afters)
def test_fuzzed_answers_to_the_sync_hook_give_a_model_or_an_evolink_error(
    sync_hook: EvoLinkHook, status: int, body: bytes, content_type: str, retry_after: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    if retry_after:
        headers["retry-after"] = retry_after
    with respx.mock(base_url=BASE, assert_all_called=False) as api:
        api.get(f"/v1/tasks/{TASK_ID}").mock(return_value=httpx.Response(status, content=body, headers=headers))
        api.post("/v1/videos/generations").mock(return_value=httpx.Response(status, content=body, headers=headers))
        api.get("/v1/credits").mock(return_value=httpx.Response(status, content=body, headers=headers))
        calls = (
            lambda: sync_hook.get_task(TASK_ID),
            lambda: sync_hook.create_video_generation({"model": "kling-o3-reference-to-video", "prompt": "fuzz"}),
            lambda: sync_hook.get_credits(),
        )
        for call in calls:
            try:
                result: Any = call()
            except EvoLinkError as error:
                result = error
            if isinstance(result, EvoLinkError):
                assert API_KEY not in str(result)
                assert RESULT_URL not in str(result)
            elif isinstance(result, TaskDetail):
                check_detail(result)
            elif isinstance(result, VideoGenerationTask):
                assert isinstance(result.id, str)
                assert result.id


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("reset"),
        httpx.DecodingError("bad gzip"),
        httpx.TooManyRedirects("loop"),
    ],
)
def test_transport_failures_of_the_sync_hook_are_evolink_errors(sync_hook: EvoLinkHook, failure: Exception) -> None:
    with respx.mock(base_url=BASE) as api:
        api.get(f"/v1/tasks/{TASK_ID}").mock(side_effect=failure)
        with pytest.raises(EvoLinkError):
            sync_hook.get_task(TASK_ID)


# ------------------------------------------------------------------------------- named bad answers
NAMED = {
    "html 502 from a proxy": (http_response(502, HTML_502, Content_Type="text/html"), EvoLinkServerError, "http_502"),
    "truncated json": (
        http_response(200, b'{"id": "' + TASK_ID.encode() + b'", "status": "proc', Content_Type="application/json"),
        EvoLinkResponseError,
        "invalid_response",
    ),
    "non-json 200": (
        http_response(200, b"OK, it is fine", Content_Type="text/plain"),
        EvoLinkResponseError,
        "invalid_response",
    ),
    "json that is a list": (http_response(200, b"[1, 2, 3]"), EvoLinkResponseError, "invalid_response"),
    "unknown status": (
        http_response(200, _json_bytes({"id": TASK_ID, "status": "queued", "progress": 5})),
        EvoLinkResponseError,
        "invalid_response",
    ),
    "missing id": (http_response(200, _json_bytes({"status": "processing"})), EvoLinkResponseError, "invalid_response"),
    "completed with empty results": (
        http_response(200, _json_bytes({"id": TASK_ID, "status": "completed", "results": []})),
        EvoLinkResponseError,
        "invalid_response",
    ),
    "not http at all": (b"\x00\xffgarbage that is not HTTP\r\n\r\n", EvoLinkError, None),
    "body shorter than its content-length": (
        http_response(200, b'{"id": "x"', Content_Length="500"),
        EvoLinkTransportError,
        "network_error",
    ),
    "gzip that is not gzip": (
        http_response(200, b"definitely not gzip", Content_Encoding="gzip"),
        EvoLinkError,
        None,
    ),
}
PROGRESS_PAST_100 = _json_bytes({"id": TASK_ID, "status": "completed", "progress": 150, "results": [RESULT_URL]})
HUGE_PROGRESS = b'{"id": "' + TASK_ID.encode() + b'", "status": "processing", "progress": 1e400}'


@pytest.mark.parametrize("name", NAMED)
async def test_named_bad_answers_are_clear_errors_through_the_async_hook_and_error_events_from_the_trigger(
    raw_server: RawHTTPServer, raw_conn: str, name: str
) -> None:
    raw, error_class, event_code = NAMED[name]
    raw_server.response = raw
    hook = EvoLinkHook(evolink_conn_id=raw_conn)
    try:
        with pytest.raises(error_class) as caught:
            await asyncio.wait_for(hook.aget_task(TASK_ID), TRIGGER_BOUND_SECONDS)
    finally:
        await hook.aclose()
    assert isinstance(caught.value, EvoLinkError)
    assert API_KEY not in str(caught.value)

    # Transient answers are tolerated for the connection's outage_tolerance, then the trigger gives up with one
    # error event.
    event = check_event(await run_trigger(raw_conn, end_in=5))
    assert event["status"] == "error"
    if event_code is not None:
        assert event["error_code"] == event_code
    assert event["retryable"] is True  # polling again later may help; the EvoLink task itself is unaffected


async def test_progress_past_100_is_clamped_and_does_not_stop_a_completed_task(
    raw_server: RawHTTPServer, raw_conn: str
) -> None:
    raw_server.response = http_response(200, PROGRESS_PAST_100)
    hook = EvoLinkHook(evolink_conn_id=raw_conn)
    try:
        detail = await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    assert detail.progress == 100
    assert check_event(await run_trigger(raw_conn))["status"] == "success"


def test_a_progress_too_large_for_an_integer_is_not_a_crash(sync_hook: EvoLinkHook) -> None:
    # 1e400 is a valid JSON number; Python reads it as infinity, which int() cannot convert.
    with respx.mock(base_url=BASE) as api:
        api.get(f"/v1/tasks/{TASK_ID}").mock(return_value=httpx.Response(200, content=HUGE_PROGRESS))
        try:
            detail = sync_hook.get_task(TASK_ID)
        except EvoLinkError:
            return
    check_detail(detail)


async def test_an_answer_about_another_task_is_not_taken_for_this_one(
    raw_server: RawHTTPServer, raw_conn: str, sync_hook: EvoLinkHook
) -> None:
    # A proxy or cache that mixes up answers must not finish this wait with another task's results.
    other = _json_bytes({"id": "task-unified-1757169999-someone", "status": "completed", "results": [RESULT_URL]})
    with respx.mock(base_url=BASE) as api:
        api.get(f"/v1/tasks/{TASK_ID}").mock(return_value=httpx.Response(200, content=other))
        with pytest.raises(EvoLinkResponseError):
            sync_hook.get_task(TASK_ID)
    raw_server.response = http_response(200, other)
    hook = EvoLinkHook(evolink_conn_id=raw_conn)
    try:
        with pytest.raises(EvoLinkResponseError):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    event = check_event(await run_trigger(raw_conn))
    assert (event["status"], event["error_code"]) == ("error", "invalid_response")


async def test_a_server_that_never_answers_ends_in_an_error_event_not_a_hang(
    evolink_connection: Callable[..., str], raw_server: RawHTTPServer, no_sleep: None
) -> None:
    conn_id = evolink_connection(
        raw_server.base_url, API_KEY, "evolink_hung", max_retries=0, timeout=0.3, outage_tolerance=0
    )
    raw_server.response = None
    started = time.monotonic()
    event = check_event(await run_trigger(conn_id, end_in=30))
    assert event["status"] == "error"
    assert event["error_code"] == "network_error"
    assert time.monotonic() - started < TRIGGER_BOUND_SECONDS


# ------------------------------------------------------------------- async hook and trigger (raw HTTP)
def _truncated(pair: tuple[bytes, int]) -> bytes:
    raw, cut = pair
    return raw[: min(cut, len(raw) - 1)] if len(raw) > 1 else raw


raw_http = st.builds(
    lambda status, body, content_type, retry_after, encoding: http_response(
        status,
        gzip.compress(body) if encoding == "gzip-valid" else body,
        **({"Content_Type": content_type} if content_type else {}),
        **({"Retry_After": retry_after} if retry_after else {}),
        **({"Content_Encoding": encoding.removesuffix("-valid")} if encoding else {}),
    ),
    status_codes,
    bodies,
    content_types,
    retry_afters,
    st.sampled_from(["", "", "", "gzip", "gzip-valid", "deflate", "br", "bogus"]),
)
raw_answers = st.one_of(
    raw_http,
    st.tuples(raw_http, st.integers(1, 400)).map(_truncated),  # the connection dies mid-head or mid-body
    st.binary(min_size=1, max_size=120),  # not HTTP at all
    st.builds(
        lambda body: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + body,
        st.binary(max_size=40),
    ),
)


@settings(FUZZ, max_examples=40)
@given(raw=raw_answers)
def test_fuzzed_raw_answers_through_the_async_hook_and_the_trigger(
    raw_server: RawHTTPServer, raw_conn: str, raw: bytes
) -> None:
    raw_server.response = raw

    async def scenario() -> None:
        hook = EvoLinkHook(evolink_conn_id=raw_conn)
        try:
            outcome: TaskDetail | EvoLinkError = await asyncio.wait_for(hook.aget_task(TASK_ID), TRIGGER_BOUND_SECONDS)
        except EvoLinkError as error:
            outcome = error
        finally:
            await hook.aclose()
        if isinstance(outcome, EvoLinkError):
            assert API_KEY not in str(outcome)
        else:
            check_detail(outcome)
        check_event(await run_trigger(raw_conn))

    asyncio.run(scenario())
