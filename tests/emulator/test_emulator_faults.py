"""Injected faults over real HTTP: 429/500/503, dropped connections, slow answers, cut-off downloads, windows."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_evolink.emulator import EvoLinkEmulator

Body = Callable[..., dict[str, Any]]
StartEmulator = Callable[..., tuple[EvoLinkEmulator, httpx.Client]]
CREATE = "/v1/videos/generations"


@pytest.mark.parametrize(
    ("setting", "status", "code"),
    [
        ("rate_429", 429, "rate_limit_exceeded"),
        ("rate_500", 500, "internal_error"),
        ("rate_503", 503, "service_unavailable"),
    ],
)
def test_error_rates_answer_with_the_documented_envelope(
    make_emulator: StartEmulator, setting: str, status: int, code: str
) -> None:
    emu, client = make_emulator(retry_after_seconds=7, **{setting: 1.0})
    response = client.get("/v1/credits")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "x-request-id" in response.headers
    assert response.headers.get("retry-after") == ("7" if status == 429 else None)
    assert emu.requests()[-1]["fault"] == str(status)


def test_rate_drop_closes_the_connection_without_an_answer(make_emulator: StartEmulator) -> None:
    emu, client = make_emulator(rate_drop=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/v1/credits")
    assert emu.requests()[-1] | {"time": None, "request_id": None} == {
        "time": None,
        "request_id": None,
        "method": "GET",
        "path": "/v1/credits",
        "host": "api",
        "idempotency_key": None,
        "auth": True,
        "range": None,
        "status": None,
        "fault": "drop",
        "task_id": None,
    }


def test_rate_slow_answers_after_slow_seconds_and_still_creates(make_emulator: StartEmulator, o3_body: Body) -> None:
    emu, client = make_emulator(rate_slow=1.0, slow_seconds=0.3)
    started = time.monotonic()
    response = client.post(CREATE, json=o3_body())

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert emu.requests()[-1]["fault"] == "slow"
    assert emu.requests()[-1]["task_id"] == response.json()["id"]


@pytest.mark.parametrize("setting", ["rate_429", "rate_500", "rate_503", "rate_drop"])
def test_a_failed_create_creates_no_task(make_emulator: StartEmulator, o3_body: Body, setting: str) -> None:
    emu, client = make_emulator(**{setting: 1.0})
    failure = pytest.raises(httpx.TransportError) if setting == "rate_drop" else contextlib.nullcontext()
    with failure:
        assert client.post(CREATE, json=o3_body()).status_code >= 429

    emu.set_faults(**{setting: 0.0})
    assert client.get("/v1/credits").json()["data"]["user"]["used_credits"] == 0.0
    assert [entry["task_id"] for entry in emu.requests()] == [None, None]


def test_faults_spare_result_links_and_samples(make_emulator: StartEmulator, o3_body: Body) -> None:
    emu, client = make_emulator(processing_seconds=0)
    task_id = client.post(CREATE, json=o3_body()).json()["id"]
    url = client.get(f"/v1/tasks/{task_id}").json()["results"][0]

    emu.set_faults(rate_500=1.0)
    assert client.get("/v1/credits").status_code == 500
    assert httpx.get(url).status_code == 200
    assert httpx.get(f"{emu.base_url}/samples/character.jpg").status_code == 200


def test_cutoff_sends_the_full_length_then_a_short_body_and_a_range_resumes(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    emu, client = make_emulator(processing_seconds=0, rate_cutoff=1.0)
    task_id = client.post(CREATE, json=o3_body(duration=10)).json()["id"]
    url = client.get(f"/v1/tasks/{task_id}").json()["results"][0]

    received = b""
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as response:  # noqa: PT012
        assert response.status_code == 200
        length = int(response.headers["content-length"])
        for chunk in response.iter_bytes():
            received += chunk
    assert 0 < len(received) < length
    assert emu.requests()[-1]["fault"] == "cutoff"

    emu.set_faults(rate_cutoff=0.0)
    rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes {len(received)}-{length - 1}/{length}"
    assert hashlib.sha256(received + rest.content).hexdigest() == emu.result_sha256(url)


def test_cutoff_of_a_streamed_blob_stops_early_and_resumes(make_emulator: StartEmulator, o3_body: Body) -> None:
    size = 2 * 1024 * 1024
    emu, client = make_emulator(processing_seconds=0, result_size_bytes=size, rate_cutoff=1.0)
    task_id = client.post(CREATE, json=o3_body()).json()["id"]
    url = client.get(f"/v1/tasks/{task_id}").json()["results"][0]

    digest, received = hashlib.sha256(), 0
    for attempt in range(4):
        if attempt == 3:
            emu.set_faults(rate_cutoff=0.0)
        with (
            contextlib.suppress(httpx.RemoteProtocolError),
            httpx.stream("GET", url, headers={"Range": f"bytes={received}-"}) as response,
        ):
            for chunk in response.iter_bytes():
                digest.update(chunk)
                received += len(chunk)
        assert received == (size if attempt == 3 else size - size // 2 ** (attempt + 1))
    assert digest.hexdigest() == emu.result_sha256(url)
    assert [entry["fault"] for entry in emu.requests() if entry["path"].startswith("/files/")] == ["cutoff"] * 3 + [
        None
    ]


def test_set_faults_for_a_window_then_reverts(make_emulator: StartEmulator) -> None:
    emu, client = make_emulator()
    emu.set_faults(rate_429=1.0, retry_after_seconds=3, duration_seconds=0.8)
    storm = client.get("/v1/credits")
    assert (storm.status_code, storm.headers["retry-after"]) == (429, "3")

    time.sleep(0.85)
    assert client.get("/v1/credits").status_code == 200
    assert emu.faults.rate_429 == 0.0


def test_set_faults_rejects_unknown_names_and_rates_outside_0_to_1(emulator: EvoLinkEmulator) -> None:
    with pytest.raises(TypeError):
        emulator.set_faults(rate_418=1.0)
    with pytest.raises(ValueError, match="rate_500"):
        emulator.set_faults(rate_500=1.5)
    with pytest.raises(ValueError, match="rate_drop"):
        EvoLinkEmulator(rate_drop=-0.1)


def test_faults_can_be_set_over_http(make_emulator: StartEmulator) -> None:
    emu, client = make_emulator()
    control = f"{emu.base_url}/_emulator/faults"
    assert httpx.post(control, json={"rate_503": 1.0, "duration_seconds": 30}).json()["rate_503"] == 1.0
    assert httpx.get(control).json()["rate_503"] == 1.0
    assert client.get("/v1/credits").status_code == 503
    assert httpx.post(control, json={"rate_503": 2}).status_code == 400


def test_seeded_fault_draws_repeat(make_emulator: StartEmulator) -> None:
    def statuses(**settings: Any) -> list[int]:
        _, client = make_emulator(seed=7, rate_500=0.5, **settings)
        return [client.get("/v1/credits").status_code for _ in range(12)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500}
