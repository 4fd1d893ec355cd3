"""EvoLinkHook: connection parsing, status → exception mapping, retries, idempotency, secrecy, async sharing.

Sync paths run against respx. Async paths run against a tiny local aiohttp server (respx cannot intercept the
shared client's aiohttp transport), except where noted the factory is swapped for a plain httpx client.
No test sleeps for real except the timeout checks (fractions of a second).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
import respx
from aiohttp import web
from fakes import VirtualTime
from pydantic import ValidationError

from airflow_provider_evolink import __version__, retry
from airflow_provider_evolink.exceptions import (
    EvoLinkAPIError,
    EvoLinkAuthenticationError,
    EvoLinkBadRequestError,
    EvoLinkConfigError,
    EvoLinkConflictError,
    EvoLinkInsufficientCreditsError,
    EvoLinkNotFoundError,
    EvoLinkPayloadTooLargeError,
    EvoLinkPermissionDeniedError,
    EvoLinkRateLimitError,
    EvoLinkResponseError,
    EvoLinkServerError,
    EvoLinkTransportError,
)
from airflow_provider_evolink.hooks import async_pool
from airflow_provider_evolink.hooks.evolink import DEFAULT_BASE_URL, EvoLinkHook
from airflow_provider_evolink.hooks.settings import USER_AGENT, ConnectionSettings
from airflow_provider_evolink.models import KlingO3ReferenceToVideoRequest, TaskStatus

API_KEY = "sk-SENTINEL-7f3a9c2e51-never-print-me"
BASE = "https://api.evolink.test"
TASK_ID = "task-unified-1757169743-7cvnl5zw"
RESULT_URL = "https://cdn.evolink.test/out.mp4?signature=SECRET-SIGNATURE"
TASK = {"id": TASK_ID, "status": "processing", "progress": 40, "model": "kling-o3-reference-to-video"}
DONE = {"id": TASK_ID, "status": "completed", "progress": 100, "results": [RESULT_URL]}
CREATED = {"id": TASK_ID, "status": "pending", "progress": 0, "usage": {"credits_reserved": 40.5}}
CREDITS = {
    "success": True,
    "data": {
        "user": {"remaining_credits": 1234.5, "used_credits": 10},
        "token": {"remaining_credits": None, "unlimited_credits": True},
    },
}
REQUEST = {
    "model": "kling-o3-reference-to-video",
    "prompt": "snow",
    "video_url": "https://cdn.example.com/ref.mp4",
    "model_params": {"element_list": [{"element_id": 42}]},
}


def envelope(status: int, code: str = "some_code", message: str = "something", **more: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": f"type_{status}", **more}}


@pytest.fixture(autouse=True)
def sleeps(virtual_time: VirtualTime) -> list[float]:
    """Record retry waits instead of sleeping."""
    return virtual_time.waits


def cap_retry_waits(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Give every connection's retry policy a ``max_wait`` of ``seconds``."""
    monkeypatch.setattr(
        ConnectionSettings,
        "retry_policy",
        property(lambda settings: retry.RetryPolicy(max_retries=settings.max_retries, max_wait=seconds)),
    )


@pytest.fixture
def hook(evolink_connection: Callable[..., str]) -> Iterator[EvoLinkHook]:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "evolink_test", max_retries=2))
    yield hook
    hook.close()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


# ============================================================================ connection
def test_missing_api_key_is_a_clear_config_error(evolink_connection: Callable[..., str]) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, None, "no_key"))  # lazy: no error yet
    with pytest.raises(EvoLinkConfigError, match=r"'no_key' has no API key: set its password \(API Key\)"):
        hook.get_task(TASK_ID)


def test_blank_api_key_counts_as_missing(evolink_connection: Callable[..., str]) -> None:
    with pytest.raises(EvoLinkConfigError, match="no API key"):
        EvoLinkHook(evolink_conn_id=evolink_connection(BASE, "  ", "blank")).settings  # noqa: B018


def test_default_base_url_timeout_and_retries(evolink_connection: Callable[..., str]) -> None:
    settings = EvoLinkHook(evolink_conn_id=evolink_connection(None, API_KEY, "defaults")).settings
    assert (settings.base_url, settings.timeout, settings.max_retries) == (DEFAULT_BASE_URL, 30.0, 3)


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("api.example.com", "https://api.example.com"),
        ("api.example.com:8443", "https://api.example.com:8443"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://api.evolink.ai/v1", "https://api.evolink.ai"),
        ("https://proxy.example.com/evolink/", "https://proxy.example.com/evolink"),
        ("", DEFAULT_BASE_URL),
    ],
)
def test_host_becomes_the_base_url(evolink_connection: Callable[..., str], host: str, base_url: str) -> None:
    assert EvoLinkHook(evolink_conn_id=evolink_connection(host, API_KEY, "h")).base_url == base_url


def test_uri_form_connection_keeps_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EVOLINK_URI", f"evolink://:{API_KEY}@api.example.com:8443")
    settings = EvoLinkHook(evolink_conn_id="evolink_uri").settings
    assert settings.base_url == "https://api.example.com:8443"
    assert settings.api_key == API_KEY


@pytest.mark.parametrize("host", ["ftp://files.example.com", "https://", "http://[::1"])
def test_a_host_that_is_not_an_http_url_is_refused(evolink_connection: Callable[..., str], host: str) -> None:
    with pytest.raises(EvoLinkConfigError, match="host"):
        EvoLinkHook(evolink_conn_id=evolink_connection(host, API_KEY, "bad_host")).settings  # noqa: B018


@pytest.mark.parametrize(
    ("extra", "timeout", "max_retries"),
    [
        ({"timeout": 12.5, "max_retries": 5}, 12.5, 5),
        ({"timeout": "12.5", "max_retries": "4"}, 12.5, 4),
        ({"timeout": "", "max_retries": None}, 30.0, 3),
        ({"timeout": 60, "max_retries": 0}, 60.0, 0),
        ({"max_retries": 2.0}, 30.0, 2),
    ],
)
def test_extras_timeout_and_max_retries(
    evolink_connection: Callable[..., str], extra: dict[str, Any], timeout: float, max_retries: int
) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "extras", **extra))
    assert (hook.settings.timeout, hook.settings.max_retries) == (timeout, max_retries)
    client = hook.get_conn()
    assert client.timeout.read == timeout
    hook.close()


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "nan"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": [1]}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retries": "many"}, "max_retries"),
        ({"max_retries": "inf"}, "max_retries"),
        ({"max_retries": False}, "max_retries"),
    ],
)
def test_bad_extras_are_clear_config_errors(
    evolink_connection: Callable[..., str], extra: dict[str, Any], name: str
) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "bad_extra", **extra))
    with pytest.raises(EvoLinkConfigError, match=rf"'bad_extra'.*'{name}'"):
        hook.settings  # noqa: B018


# ============================================================================ headers
def test_requests_carry_bearer_auth_and_the_user_agent(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.get(f"/v1/tasks/{TASK_ID}").respond(200, json=TASK)
    detail = hook.get_task(TASK_ID)
    assert (detail.id, detail.status, detail.progress) == (TASK_ID, TaskStatus.PROCESSING, 40)
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["User-Agent"] == f"airflow-provider-evolink/{__version__}"


def test_result_client_never_sends_the_api_key(hook: EvoLinkHook) -> None:
    with respx.mock() as cdn, hook.result_client() as client:
        route = cdn.get(RESULT_URL).respond(200, content=b"mp4")
        assert client.get(RESULT_URL).content == b"mp4"
    assert "Authorization" not in route.calls.last.request.headers
    assert route.calls.last.request.headers["User-Agent"].startswith("airflow-provider-evolink/")


def test_task_ids_are_validated_and_quoted(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    with pytest.raises(EvoLinkConfigError, match="evolink_task_id"):
        hook.get_task("  ")
    route = api.get("/v1/tasks/a%2Fb").respond(200, json={**TASK, "id": "a/b"})
    assert hook.get_task("a/b").id == "a/b"
    assert route.called


# ============================================================================ status codes
@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, EvoLinkBadRequestError, False),
        (401, EvoLinkAuthenticationError, False),
        (402, EvoLinkInsufficientCreditsError, False),
        (403, EvoLinkPermissionDeniedError, False),
        (404, EvoLinkNotFoundError, False),
        (409, EvoLinkConflictError, False),
        (413, EvoLinkPayloadTooLargeError, False),
        (429, EvoLinkRateLimitError, True),
        (500, EvoLinkServerError, True),
        (502, EvoLinkServerError, True),
        (503, EvoLinkServerError, True),
        (504, EvoLinkServerError, True),
    ],
)
def test_every_status_code_becomes_its_exception_and_only_retryable_ones_are_retried(
    hook: EvoLinkHook,
    api: respx.MockRouter,
    sleeps: list[float],
    status: int,
    cls: type[EvoLinkAPIError],
    retryable: bool,
) -> None:
    body = envelope(status, code=f"code_{status}", message=f"message {status}", param="task_id")
    route = api.get(f"/v1/tasks/{TASK_ID}").respond(status, json=body, headers={"x-request-id": f"req-{status}"})
    with pytest.raises(cls) as caught:
        hook.get_task(TASK_ID)
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == f"code_{status}"
    assert error.type == f"type_{status}"
    assert error.message == f"message {status}"
    assert error.param == "task_id"
    assert error.request_id == f"req-{status}"
    assert error.retryable is retryable
    assert f"req-{status}" in str(error)
    assert f"code_{status}" in str(error)
    assert str(status) in str(error)
    # max_retries=2: a retryable status is tried 3 times, a 4xx exactly once.
    assert route.call_count == (3 if retryable else 1)
    assert len(sleeps) == (2 if retryable else 0)


def test_the_oneapi_request_id_header_is_read_too(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").respond(404, json=envelope(404), headers={"x-oneapi-request-id": "one-7"})
    with pytest.raises(EvoLinkNotFoundError, match="request ID one-7"):
        hook.get_task(TASK_ID)


def test_an_html_502_from_a_proxy_is_a_clear_server_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    route = api.get(f"/v1/tasks/{TASK_ID}").respond(502, text=html, headers={"content-type": "text/html"})
    with pytest.raises(EvoLinkServerError) as caught:
        hook.get_task(TASK_ID)
    error = caught.value
    assert (error.status_code, error.code, error.retryable) == (502, None, True)
    assert "not the EvoLink error envelope" in error.message
    assert "text/html" in error.message
    assert "<html>" not in str(error)
    assert route.call_count == 3


def test_a_plain_text_404_is_still_not_found(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").respond(404, text="Not Found")
    with pytest.raises(EvoLinkNotFoundError, match="404"):
        hook.get_task(TASK_ID)


def test_truncated_json_on_a_200_read_is_re_read_then_a_clear_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.get(f"/v1/tasks/{TASK_ID}").respond(200, content=b'{"id": "task-unified-1", "sta')
    with pytest.raises(EvoLinkResponseError, match=r"unexpected answer to GET /v1/tasks/.*Invalid JSON"):
        hook.get_task(TASK_ID)
    assert route.call_count == 3


def test_a_garbled_read_recovers_on_the_next_attempt(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[httpx.Response(200, content=b"<html>"), httpx.Response(200, json=DONE)]
    )
    assert hook.get_task(TASK_ID).results == [RESULT_URL]


def test_response_errors_never_echo_result_urls(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").respond(200, json={**DONE, "status": "teleported"})
    with pytest.raises(EvoLinkResponseError) as caught:
        hook.get_task(TASK_ID)
    assert "status" in str(caught.value)
    assert "SECRET-SIGNATURE" not in str(caught.value)


def test_a_completed_task_without_results_is_a_response_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").respond(200, json={**DONE, "results": []})
    with pytest.raises(EvoLinkResponseError, match="at least one result URL"):
        hook.get_task(TASK_ID)


# ============================================================================ retries
def test_429_and_5xx_are_retried_until_success(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[httpx.Response(503, json=envelope(503)), httpx.Response(429), httpx.Response(200, json=DONE)]
    )
    assert hook.get_task(TASK_ID).status is TaskStatus.COMPLETED
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")]
)
def test_connect_errors_and_read_timeouts_are_retried(
    hook: EvoLinkHook, api: respx.MockRouter, failure: Exception
) -> None:
    route = api.get(f"/v1/tasks/{TASK_ID}").mock(side_effect=[failure, failure, httpx.Response(200, json=TASK)])
    assert hook.get_task(TASK_ID).id == TASK_ID
    assert route.call_count == 3


def test_persistent_timeouts_end_in_a_transport_error_after_max_retries(
    hook: EvoLinkHook, api: respx.MockRouter
) -> None:
    route = api.get(f"/v1/tasks/{TASK_ID}").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(EvoLinkTransportError, match=rf"GET /v1/tasks/{TASK_ID}: no answer .*ReadTimeout") as caught:
        hook.get_task(TASK_ID)
    assert caught.value.retryable
    assert route.call_count == 3


def test_max_retries_zero_means_one_attempt(evolink_connection: Callable[..., str], api: respx.MockRouter) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "no_retry", max_retries=0))
    route = api.get(f"/v1/tasks/{TASK_ID}").respond(503)
    with pytest.raises(EvoLinkServerError):
        hook.get_task(TASK_ID)
    assert route.call_count == 1


def test_retry_after_seconds_is_honoured(hook: EvoLinkHook, api: respx.MockRouter, sleeps: list[float]) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=TASK)]
    )
    hook.get_task(TASK_ID)
    assert sleeps == [7.0]


def test_retry_after_is_capped(
    hook: EvoLinkHook, api: respx.MockRouter, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(503, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=TASK),
        ]
    )
    hook.get_task(TASK_ID)
    assert sleeps == [retry.MAX_RETRY_WAIT, retry.MAX_RETRY_WAIT] == [30.0, 30.0]


def test_retry_after_as_an_http_date_is_honoured(hook: EvoLinkHook, api: respx.MockRouter, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 12, usegmt=True)
    api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=TASK)]
    )
    hook.get_task(TASK_ID)
    assert 9.0 <= sleeps[0] <= 12.0


def test_without_retry_after_the_backoff_is_exponential_with_jitter_and_capped(
    monkeypatch: pytest.MonkeyPatch, evolink_connection: Callable[..., str], api: respx.MockRouter, sleeps: list[float]
) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "backoff", max_retries=5))
    api.get(f"/v1/tasks/{TASK_ID}").mock(side_effect=[httpx.Response(500)] * 5 + [httpx.Response(200, json=TASK)])
    cap_retry_waits(monkeypatch, 5.0)
    hook.get_task(TASK_ID)
    # 0.5 * 2**(n-1) plus up to 0.5 of jitter, capped at MAX_RETRY_WAIT.
    for n, (low, high) in enumerate([(0.5, 1.0), (1.0, 1.5), (2.0, 2.5), (4.0, 4.5), (5.0, 5.0)]):
        assert low <= sleeps[n] <= high, sleeps


def test_retries_are_logged_without_the_key(
    hook: EvoLinkHook, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").mock(side_effect=[httpx.Response(503), httpx.Response(200, json=TASK)])
    with caplog.at_level("WARNING", logger=retry.__name__):
        hook.get_task(TASK_ID)
    assert "retry 1" in caplog.text
    assert "503" in caplog.text


# ============================================================================ create and idempotency
def test_create_sends_the_validated_body_and_the_callers_idempotency_key(
    hook: EvoLinkHook, api: respx.MockRouter
) -> None:
    route = api.post("/v1/videos/generations").respond(200, json=CREATED)
    task = hook.create_video_generation(REQUEST, idempotency_key="run-1-task-a")
    assert task.id == TASK_ID
    assert task.usage is not None
    assert task.usage.credits_reserved == 40.5
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "run-1-task-a"
    assert request.headers["Content-Type"] == "application/json"
    sent = json.loads(request.content)
    assert sent["model_params"]["element_list"] == [{"element_id": "42"}]  # an int ID is sent as a string
    assert sent == KlingO3ReferenceToVideoRequest.model_validate(REQUEST).to_api_json()


def test_create_accepts_a_request_model(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.post("/v1/videos/generations").respond(200, json=CREATED)
    hook.create_video_generation(KlingO3ReferenceToVideoRequest.model_validate(REQUEST))
    assert json.loads(route.calls.last.request.content)["prompt"] == "snow"


def test_create_without_a_key_sends_a_fresh_uuid_each_call(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.post("/v1/videos/generations").respond(200, json=CREATED)
    hook.create_video_generation(REQUEST)
    hook.create_video_generation(REQUEST)
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert len(set(keys)) == 2
    assert all(uuid.UUID(key) for key in keys)


@pytest.mark.parametrize("key", [None, "caller-key-1"])
def test_every_retry_of_one_create_reuses_the_same_key_and_body(
    hook: EvoLinkHook, api: respx.MockRouter, key: str | None
) -> None:
    route = api.post("/v1/videos/generations").mock(
        side_effect=[
            httpx.Response(503, json=envelope(503)),
            httpx.ReadTimeout("no answer: the task may exist"),
            httpx.Response(200, json=CREATED, headers={"idempotency-replayed": "true"}),
        ]
    )
    assert hook.create_video_generation(REQUEST, idempotency_key=key).id == TASK_ID
    assert route.call_count == 3
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    bodies = {call.request.content for call in route.calls}
    assert len(keys) == 1
    assert len(bodies) == 1
    if key is not None:
        assert keys == {key}


@pytest.mark.parametrize("status", [400, 401, 402, 403, 409, 413])
def test_create_is_not_retried_on_4xx(hook: EvoLinkHook, api: respx.MockRouter, status: int) -> None:
    route = api.post("/v1/videos/generations").respond(status, json=envelope(status, code="idempotency_conflict"))
    with pytest.raises(EvoLinkAPIError) as caught:
        hook.create_video_generation(REQUEST, idempotency_key="k")
    assert caught.value.status_code == status
    assert route.call_count == 1


def test_a_garbled_200_to_a_create_is_reported_not_re_posted(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.post("/v1/videos/generations").respond(200, content=b'{"id": "task-unif')
    with pytest.raises(EvoLinkResponseError, match="unexpected answer to POST /v1/videos/generations"):
        hook.create_video_generation(REQUEST, idempotency_key="k")
    assert route.call_count == 1


def test_a_create_without_an_id_is_a_response_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.post("/v1/videos/generations").respond(200, json={"status": "pending"})
    with pytest.raises(EvoLinkResponseError, match="id"):
        hook.create_video_generation(REQUEST)


def test_an_invalid_request_is_refused_before_sending(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.post("/v1/videos/generations").respond(200, json=CREATED)
    with pytest.raises(ValidationError, match="duration"):
        hook.create_video_generation({**REQUEST, "duration": 12})
    assert not route.called


@pytest.mark.parametrize("key", ["ключ", "line\nbreak", "x" * 256])
def test_an_unusable_idempotency_key_is_refused_before_sending(
    hook: EvoLinkHook, api: respx.MockRouter, key: str
) -> None:
    route = api.post("/v1/videos/generations").respond(200, json=CREATED)
    with pytest.raises(EvoLinkConfigError, match="idempotency_key"):
        hook.create_video_generation(REQUEST, idempotency_key=key)
    assert not route.called


# ============================================================================ credits and test_connection
def test_get_credits(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get("/v1/credits").respond(200, json=CREDITS)
    credits = hook.get_credits()
    assert credits.user.remaining_credits == 1234.5
    assert credits.remaining == 1234.5


def test_a_200_with_success_false_on_credits_is_an_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get("/v1/credits").respond(
        200, json={"success": False, "message": "token disabled"}, headers={"x-request-id": "rq-9"}
    )
    with pytest.raises(EvoLinkResponseError, match=r"success: false: token disabled \(request ID rq-9\)"):
        hook.get_credits()


def test_test_connection_reports_the_remaining_credits(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get("/v1/credits").respond(200, json=CREDITS)
    ok, message = hook.test_connection()
    assert ok
    assert message == f"Connected to EvoLink at {BASE}: 1,234.5 credits remaining"


def test_test_connection_fails_with_a_reason_and_without_retries(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.get("/v1/credits").respond(401, json=envelope(401, code="unauthorized", message="Invalid token"))
    assert hook.test_connection() == (False, "EvoLink API error 401 [unauthorized]: Invalid token")
    route.respond(503)
    ok, message = hook.test_connection()
    assert not ok
    assert "503" in message
    assert route.call_count == 2


def test_test_connection_fails_on_success_false(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.get("/v1/credits").respond(200, json={"success": False})
    ok, message = hook.test_connection()
    assert not ok
    assert "success: false" in message


def test_test_connection_fails_with_a_reason_for_a_bad_or_missing_connection(
    evolink_connection: Callable[..., str],
) -> None:
    ok, message = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, None, "keyless")).test_connection()
    assert not ok
    assert "no API key" in message
    ok, message = EvoLinkHook(evolink_conn_id="does_not_exist").test_connection()
    assert not ok
    assert "does_not_exist" in message


# ============================================================================ secrecy
def test_the_api_key_never_appears_in_errors_logs_or_reprs(
    hook: EvoLinkHook,
    api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api.get(f"/v1/tasks/{TASK_ID}").mock(
        side_effect=[
            httpx.Response(429, json=envelope(429, message=f"slow down, {API_KEY}"), headers={"Retry-After": "0"}),
            httpx.ConnectError(f"could not connect with {API_KEY}"),
            httpx.Response(401, json=envelope(401, message=f"Invalid token {API_KEY}", param=API_KEY)),
        ]
    )
    api.get("/v1/credits").respond(403, json=envelope(403, code=API_KEY, message="denied"))
    route = api.post("/v1/videos/generations").mock(side_effect=httpx.ConnectError(f"boom {API_KEY}"))
    texts: list[str] = []
    with caplog.at_level("DEBUG"):
        with pytest.raises(EvoLinkAuthenticationError) as first:
            hook.get_task(TASK_ID)
        with pytest.raises(EvoLinkTransportError) as second:
            hook.create_video_generation(REQUEST)
        texts += [str(first.value), repr(first.value), str(second.value), repr(second.value)]
        texts += [vars(first.value).__repr__(), hook.test_connection()[1]]
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {API_KEY}"  # the key really was in play
    client = hook.get_conn()
    texts += [repr(hook), str(hook), repr(hook.settings), repr(client), repr(client.auth), repr(client.headers)]
    texts += [caplog.text, *(record.getMessage() for record in caplog.records)]
    out, err = capfd.readouterr()
    texts += [out, err]
    for text in texts:
        assert API_KEY not in text, text
    assert "***" in str(first.value)  # the echoed key was scrubbed, not the message dropped


# ============================================================================ async: local server
@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: dict[str, str]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeEvoLink:
    """A scripted EvoLink on a loopback port: each request takes the next scripted handler, else ``default``."""

    base_url: str = ""
    script: deque[Handler] = field(default_factory=deque)
    default: Handler | None = None  # when the script is empty; None: the completed task
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        self.received.append(Received(loop.time(), request.method, request.path, dict(request.headers)))
        if self.script:
            return await self.script.popleft()(request)
        if self.default is not None:
            return await self.default(request)
        return web.json_response(DONE)


def respond(status: int, body: Any = None, *, text: str | None = None, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if text is not None:
            return web.Response(status=status, text=text, content_type="text/html", headers=headers)
        return web.json_response(body if body is not None else envelope(status), status=status, headers=headers)

    return handler


@pytest.fixture
async def server() -> AsyncIterator[FakeEvoLink]:
    fake = FakeEvoLink()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}"
    yield fake
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
def async_conn(evolink_connection: Callable[..., str], server: FakeEvoLink) -> str:
    return evolink_connection(server.base_url, API_KEY, "evolink_async", max_retries=2)


@pytest.mark.airflow_min("3.3.2", reason="Connection.aextra_dejson; below it the extras are read as compat.py says")
async def test_aget_task_resolves_the_connection_asynchronously_and_works(
    monkeypatch: pytest.MonkeyPatch, server: FakeEvoLink, async_conn: str
) -> None:
    from airflow.sdk import Connection

    calls: list[str] = []
    real_aget_connection = EvoLinkHook.aget_connection.__func__  # type: ignore[attr-defined]
    real_aextra = Connection.aextra_dejson

    async def spy_aget_connection(cls: type, conn_id: str) -> Connection:
        calls.append(f"aget_connection:{conn_id}")
        return await real_aget_connection(cls, conn_id)

    async def spy_aextra(self: Connection) -> dict[str, Any]:
        calls.append("aextra_dejson")
        return await real_aextra(self)

    def no_sync_io(*args: object, **kwargs: object) -> None:
        raise AssertionError("sync connection lookup on the async path")

    monkeypatch.setattr(EvoLinkHook, "aget_connection", classmethod(spy_aget_connection))
    monkeypatch.setattr(Connection, "aextra_dejson", spy_aextra)
    monkeypatch.setattr(EvoLinkHook, "get_connection", classmethod(no_sync_io))
    monkeypatch.setattr(Connection, "extra_dejson", property(no_sync_io))

    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        detail = await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    assert detail.status is TaskStatus.COMPLETED
    assert detail.results == [RESULT_URL]
    # Airflow's own lookup may read the extras too (to mask them); the hook reads them with aextra_dejson.
    assert calls[0] == f"aget_connection:{async_conn}"
    assert calls[1:]
    assert set(calls[1:]) == {"aextra_dejson"}
    (request,) = server.received
    assert request.path == f"/v1/tasks/{TASK_ID}"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["User-Agent"] == f"airflow-provider-evolink/{__version__}"


async def test_hooks_started_together_share_one_connection_lookup(
    monkeypatch: pytest.MonkeyPatch, server: FakeEvoLink, async_conn: str
) -> None:
    from airflow.sdk import Connection

    lookups: list[str] = []
    real_aget_connection = EvoLinkHook.aget_connection.__func__  # type: ignore[attr-defined]

    async def slow_aget_connection(cls: type, conn_id: str) -> Connection:
        lookups.append(conn_id)
        await asyncio.sleep(0.05)  # a round trip to the API server, as in a triggerer
        return await real_aget_connection(cls, conn_id)

    monkeypatch.setattr(EvoLinkHook, "aget_connection", classmethod(slow_aget_connection))
    hooks = [EvoLinkHook(evolink_conn_id=async_conn) for _ in range(20)]
    try:
        details = await asyncio.gather(*(hook.aget_task(TASK_ID) for hook in hooks))
    finally:
        for hook in hooks:
            await hook.aclose()

    assert [detail.status for detail in details] == [TaskStatus.COMPLETED] * 20
    assert lookups == [async_conn]


async def test_the_shared_async_client_is_shared_on_one_loop_and_closed_after_the_last_aclose(
    server: FakeEvoLink, async_conn: str
) -> None:
    first, second = EvoLinkHook(evolink_conn_id=async_conn), EvoLinkHook(evolink_conn_id=async_conn)
    await asyncio.gather(first.aget_task(TASK_ID), second.aget_task(TASK_ID))
    shared = first._shared
    assert shared is not None
    assert shared is second._shared
    assert shared.users == 2
    assert isinstance(shared.session, aiohttp.ClientSession)
    loop = asyncio.get_running_loop()
    await first.aclose()
    assert not shared.session.closed
    assert shared.users == 1
    await first.aclose()  # twice is harmless
    assert shared.users == 1
    await second.aclose()
    assert shared.session.closed
    assert not async_pool._SHARED.get(loop)
    assert len(server.received) == 2
    # A closed hook can be used again: it joins (here: makes) a new shared client.
    assert (await first.aget_task(TASK_ID)).id == TASK_ID
    assert first._shared is not shared
    await first.aclose()


async def test_hooks_with_different_keys_do_not_share_a_client(
    evolink_connection: Callable[..., str], server: FakeEvoLink, async_conn: str
) -> None:
    other = evolink_connection(server.base_url, "sk-another-key-123456", "evolink_other_key")
    first, second = EvoLinkHook(evolink_conn_id=async_conn), EvoLinkHook(evolink_conn_id=other)
    await first.aget_task(TASK_ID)
    await second.aget_task(TASK_ID)
    assert first._shared is not second._shared
    assert server.received[1].headers["Authorization"] == "Bearer sk-another-key-123456"
    await first.aclose()
    await second.aclose()


async def test_a_429_retry_after_on_the_shared_client_delays_the_other_hooks(
    monkeypatch: pytest.MonkeyPatch, evolink_connection: Callable[..., str], server: FakeEvoLink, sleeps: list[float]
) -> None:
    cap_retry_waits(monkeypatch, 0.3)  # Retry-After: 5 capped to 0.3 s
    impatient = evolink_connection(server.base_url, API_KEY, "evolink_impatient", max_retries=0)
    patient = evolink_connection(server.base_url, API_KEY, "evolink_patient", max_retries=2)
    first, second = EvoLinkHook(evolink_conn_id=impatient), EvoLinkHook(evolink_conn_id=patient)
    server.script.append(respond(429, envelope(429, code="rate_limit_exceeded"), **{"Retry-After": "5"}))
    try:
        with pytest.raises(EvoLinkRateLimitError) as caught:
            await first.aget_task(TASK_ID)
        assert caught.value.retry_after == 5.0
        await second.aget_task(TASK_ID)
        assert first._shared is second._shared
    finally:
        await first.aclose()
        await second.aclose()
    assert len(server.received) == 2
    # The first hook does not retry (max_retries=0); the second waits out the shared pause before its request.
    assert len(sleeps) == 1, sleeps
    assert 0.25 <= sleeps[0] <= 0.3, "the second hook did not wait for the shared Retry-After"


async def test_async_reads_retry_5xx_and_do_not_retry_4xx(
    server: FakeEvoLink, async_conn: str, sleeps: list[float]
) -> None:
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        server.script.extend([respond(503), respond(502, text="<html>Bad Gateway</html>")])
        assert (await hook.aget_task(TASK_ID)).status is TaskStatus.COMPLETED
        assert len(server.received) == 3
        assert len(sleeps) == 2
        server.script.append(respond(404, envelope(404, code="task_not_found"), **{"x-request-id": "rid-4"}))
        with pytest.raises(EvoLinkNotFoundError) as caught:
            await hook.aget_task(TASK_ID)
        assert (caught.value.code, caught.value.request_id) == ("task_not_found", "rid-4")
        assert len(server.received) == 4
    finally:
        await hook.aclose()


async def test_an_async_html_502_is_a_clear_server_error(server: FakeEvoLink, async_conn: str) -> None:
    server.default = respond(502, text="<html>Bad Gateway</html>")
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        with pytest.raises(EvoLinkServerError, match="not the EvoLink error envelope"):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    assert len(server.received) == 3


async def test_an_async_read_timeout_is_a_transport_error(
    evolink_connection: Callable[..., str], server: FakeEvoLink
) -> None:
    async def hang(request: web.Request) -> web.StreamResponse:
        await server.release.wait()
        return web.json_response(DONE)

    server.default = hang
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(server.base_url, API_KEY, "slow", timeout=0.2, max_retries=1))
    started = time.monotonic()
    try:
        with pytest.raises(EvoLinkTransportError, match=r"GET /v1/tasks/.*no answer"):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    assert len(server.received) == 2
    assert time.monotonic() - started < 2.0


async def test_an_async_connection_dropped_mid_body_is_retried(server: FakeEvoLink, async_conn: str) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "500"})
        await response.prepare(request)
        await response.write(b'{"id": "task-unified-')
        assert request.transport is not None
        request.transport.close()
        return response

    server.script.append(cut)
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        assert (await hook.aget_task(TASK_ID)).status is TaskStatus.COMPLETED
    finally:
        await hook.aclose()
    assert len(server.received) == 2


async def test_async_answers_are_read_whole_and_decoded_like_httpx_would(server: FakeEvoLink, async_conn: str) -> None:
    # The shared client reads each answer whole in its transport: a compressed one must still be decoded,
    # and one that cannot be decoded must still be an unreadable answer, not a bare httpx error.
    import gzip

    async def gzipped(request: web.Request) -> web.StreamResponse:
        body = gzip.compress(json.dumps(DONE).encode())
        return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    async def garbled(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"not gzip", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    server.script.append(gzipped)
    server.default = garbled
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        assert (await hook.aget_task(TASK_ID)).status is TaskStatus.COMPLETED
        with pytest.raises(EvoLinkResponseError, match=r"GET /v1/tasks/.*unreadable answer \(DecodingError"):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()


async def test_async_connect_errors_are_transport_errors(evolink_connection: Callable[..., str]) -> None:
    # A port nothing listens on (bound, then closed).
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(f"http://127.0.0.1:{port}", API_KEY, "closed", max_retries=1))
    try:
        with pytest.raises(EvoLinkTransportError, match="no answer from EvoLink"):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()


async def test_async_status_mapping_and_auth(server: FakeEvoLink, async_conn: str) -> None:
    server.default = respond(403, envelope(403, code="permission_denied"))
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        with pytest.raises(EvoLinkPermissionDeniedError, match="permission_denied"):
            await hook.aget_task(TASK_ID)
    finally:
        await hook.aclose()
    [received] = server.received
    assert received.headers["Authorization"] == f"Bearer {API_KEY}"
    assert received.headers["User-Agent"] == USER_AGENT


def test_one_hook_can_be_used_from_successive_event_loops(
    evolink_connection: Callable[..., str], emulator: Any
) -> None:
    conn_id = evolink_connection(emulator.base_url, emulator.api_key, "evolink_loops")
    hook = EvoLinkHook(evolink_conn_id=conn_id)
    task_id = hook.create_video_generation(
        KlingO3ReferenceToVideoRequest(prompt="a cat", video_url=f"{emulator.base_url}/samples/reference.mp4")
    ).id
    assert asyncio.run(hook.aget_task(task_id)).id == task_id
    assert asyncio.run(hook.aget_task(task_id)).id == task_id

    async def read_and_close() -> None:
        await hook.aget_task(task_id)
        await hook.aclose()

    asyncio.run(read_and_close())
    assert hook._shared is None


async def test_async_reads_go_through_an_http_proxy_named_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, evolink_connection: Callable[..., str], server: FakeEvoLink
) -> None:
    # httpx's clients honour HTTP(S)_PROXY (trust_env); the shared aiohttp pool reads it once, not per request.
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hook = EvoLinkHook(evolink_conn_id=evolink_connection("http://api.evolink.test", API_KEY, "evolink_proxied"))
    try:
        assert (await hook.aget_task(TASK_ID)).id == TASK_ID
    finally:
        await hook.aclose()
    [received] = server.received  # the proxy got the request for the API host, with its absolute URL
    assert received.headers["Host"] == "api.evolink.test"


async def test_reprs_of_the_async_side_hide_the_key(server: FakeEvoLink, async_conn: str) -> None:
    hook = EvoLinkHook(evolink_conn_id=async_conn)
    try:
        await hook.aget_task(TASK_ID)
        assert hook._shared is not None
        for text in (repr(hook), repr(hook._shared), repr(hook._shared.session)):
            assert API_KEY not in text
    finally:
        await hook.aclose()
