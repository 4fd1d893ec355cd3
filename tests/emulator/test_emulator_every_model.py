"""The emulator knows every catalogue id (one source of truth with the client): each id's example request, with
its documented defaults, is accepted and completes with the documented shape (the default duration, ``n`` videos),
and a quality the model does not offer is refused with the field named. One emulator, instant renders, inputs not
fetched (their probing has its own tests), so the loop over all ids stays fast."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

CATALOGUE = Path(__file__).resolve().parents[2] / "airflow_provider_evolink" / "api_reference" / "catalogue.json"


def test_every_catalogue_id_completes_with_its_defaults_and_refuses_an_undocumented_quality(
    make_emulator: Callable[..., tuple[Any, httpx.Client]],
) -> None:
    models: dict[str, dict[str, Any]] = json.loads(CATALOGUE.read_text("utf-8"))["models"]
    _, api = make_emulator(processing_seconds=0.0, fetch_inputs=False)
    problems: list[str] = []
    for model, entry in models.items():
        created = api.post("/v1/videos/generations", json=entry["example"])
        if created.status_code != 200:
            problems.append(f"{model}: {created.status_code} {created.text[:200]}")
            continue
        detail = api.get(f"/v1/tasks/{created.json()['id']}").json()
        videos = (entry["outputs"] or {}).get("default", 1)
        seconds = (entry["duration"] or {}).get("default")
        if detail["status"] != "completed" or len(detail["results"]) != videos:
            problems.append(f"{model}: {detail['status']} with {len(detail.get('results', []))} of {videos} videos")
        if seconds is not None and detail["task_info"]["video_duration"] != seconds:
            problems.append(f"{model}: {detail['task_info']['video_duration']} s, default {seconds} s")
        if entry["quality"]["values"]:
            refused = api.post("/v1/videos/generations", json={**entry["example"], "quality": "9k"})
            if refused.status_code != 400 or refused.json()["error"].get("param") != "quality":
                problems.append(f"{model}: quality 9k answered {refused.status_code} {refused.text[:200]}")
    assert not problems, "\n".join(problems)


def test_n_videos_are_rendered_and_each_link_is_signed_for_its_own_file(
    make_emulator: Callable[..., tuple[Any, httpx.Client]],
) -> None:
    _, api = make_emulator(processing_seconds=0.0, fetch_inputs=False, result_size_bytes=64)
    body = {"model": "veo-3.1-fast-generate-preview", "prompt": "Waves at dusk", "n": 3}
    task = api.post("/v1/videos/generations", json=body).json()
    results = api.get(f"/v1/tasks/{task['id']}").json()["results"]
    assert [url.split("?")[0].rsplit("/", 1)[1] for url in results] == ["0.mp4", "1.mp4", "2.mp4"]
    assert all(httpx.get(url).status_code == 200 for url in results)
    swapped = results[1].replace("/1.mp4?", "/2.mp4?")
    assert httpx.get(swapped).status_code == 403


def test_rules_over_several_fields_of_the_index_families_are_refused_naming_the_field(
    make_emulator: Callable[..., tuple[Any, httpx.Client]],
) -> None:
    _, api = make_emulator(processing_seconds=0.0, fetch_inputs=False)
    image = "https://example.com/character.jpg"
    cases = [
        ({"model": "veo-3.1-generate-preview", "prompt": "p", "generation_type": "REFERENCE"}, "image_urls"),
        ({"model": "MiniMax-Hailuo-2.3", "prompt": "p", "quality": "1080p", "duration": 10}, "duration"),
        ({"model": "minimax-h3-image-to-video", "prompt": "p"}, "image_start"),
        ({"model": "seedance-2.5-text-to-video", "prompt": "p", "draft": True, "quality": "720p"}, "quality"),
        (
            {"model": "grok-imagine-video-1.5-preview", "prompt": "p", "image_urls": [image] * 2, "quality": "1080p"},
            "quality",
        ),
        ({"model": "wan2.7-image-to-video", "generation_mode": "first_last_frame", "image_start": image}, "image_end"),
    ]
    for body, field in cases:
        refused = api.post("/v1/videos/generations", json=body)
        assert (refused.status_code, refused.json()["error"].get("param")) == (400, field), body
