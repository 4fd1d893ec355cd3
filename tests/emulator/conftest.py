"""Fixtures for the emulator tests: request bodies, HTTP clients and emulators with their own settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from airflow_provider_evolink.emulator import EvoLinkEmulator

O3 = "kling-o3-reference-to-video"
MOTION_CONTROL = "kling-v3-motion-control"


@pytest.fixture
def samples(emulator: EvoLinkEmulator) -> str:
    """The session emulator's sample folder: inputs every emulator can fetch (they fetch inputs by default)."""
    return f"{emulator.base_url}/samples"


@pytest.fixture
def o3_body(samples: str) -> Callable[..., dict[str, Any]]:
    """A valid O3 request (the OpenAPI ``basic`` example, with fetchable inputs); keyword arguments override
    fields."""

    def build(**fields: Any) -> dict[str, Any]:
        body = {
            "model": O3,
            "prompt": "Keep the same motion style, change to a snowy background",
            "video_url": f"{samples}/reference.mp4",
            "duration": 5,
            "aspect_ratio": "16:9",
            "quality": "720p",
        }
        return {**body, **fields}

    return build


@pytest.fixture
def motion_body(samples: str) -> Callable[..., dict[str, Any]]:
    """A valid motion control request (the OpenAPI ``basic`` example, with fetchable inputs); keyword arguments
    override fields."""

    def build(**fields: Any) -> dict[str, Any]:
        body = {
            "model": MOTION_CONTROL,
            "prompt": "A girl dancing gracefully",
            "image_urls": [f"{samples}/character.jpg"],
            "video_urls": [f"{samples}/reference.mp4"],
            "quality": "720p",
            "model_params": {"character_orientation": "image"},
        }
        return {**body, **fields}

    return build


def _client(emu: EvoLinkEmulator) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=10)


@pytest.fixture
def api(emulator: EvoLinkEmulator) -> Iterator[httpx.Client]:
    """An authenticated client of the session emulator (instant processing)."""
    with _client(emulator) as client:
        yield client


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., tuple[EvoLinkEmulator, httpx.Client]]]:
    """Start an emulator with the given settings; returns it with an authenticated client. Stopped after."""
    running: list[tuple[EvoLinkEmulator, httpx.Client]] = []

    def start(**settings: Any) -> tuple[EvoLinkEmulator, httpx.Client]:
        emu = EvoLinkEmulator(**settings).start()
        running.append((emu, _client(emu)))
        return running[-1]

    yield start
    for emu, client in running:
        client.close()
        emu.stop()


@pytest.fixture
def completed_result(api: httpx.Client, o3_body: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    """Create a task on the session emulator and return its first result URL (completes at once)."""

    def create(client: httpx.Client = api, body: dict[str, Any] | None = None) -> str:
        task = client.post("/v1/videos/generations", json=body or o3_body()).json()
        detail = client.get(f"/v1/tasks/{task['id']}").json()
        assert detail["status"] == "completed", detail
        url: str = detail["results"][0]
        return url

    return create


def _response_schema(document: str, name: str) -> Draft202012Validator:
    spec = yaml.safe_load(
        (files("airflow_provider_evolink") / "api_reference" / "openapi" / document).read_text(encoding="utf-8")
    )
    return Draft202012Validator({**spec["components"]["schemas"][name], "components": spec["components"]})


@pytest.fixture(scope="session")
def response_schemas() -> dict[str, Draft202012Validator]:
    """Validators of the documented answers: ``create`` (VideoGenerationResponse) and ``detail``."""
    return {
        "create": _response_schema("kling-o3-reference-to-video.openapi.yaml", "VideoGenerationResponse"),
        "detail": _response_schema("get-task-detail.openapi.yaml", "TaskDetailResponse"),
    }
