"""Every model id of the catalogue (all of EvoLink's documented video ids): its documented example validates and is
sent unchanged, and each documented limit it has (duration range or values, quality values, image count) refuses a
request that breaks it, naming the field, in-process (no HTTP call is possible before this validation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_evolink.models.catalogue import ModelSpec, model_specs
from airflow_provider_evolink.models.requests import VideoGenerationRequest, parse_request, request_class

CATALOGUE = Path(__file__).resolve().parents[2] / "airflow_provider_evolink" / "api_reference" / "catalogue.json"
EXAMPLES = {model: entry["example"] for model, entry in json.loads(CATALOGUE.read_text("utf-8"))["models"].items()}


def _violations(spec: ModelSpec) -> list[tuple[str, str, Any]]:
    """(kind, field, value) of each documented limit of ``spec`` a request can break."""
    found: list[tuple[str, str, Any]] = []
    span = spec.duration
    if span is not None and "duration" in spec.fields | {"duration": None} and not spec.fields.get("duration"):
        beyond = (span.maximum or 0) + 1 if span.values is None else max(span.values) + 1
        if not span.values or beyond not in span.values:
            found.append(("duration", "duration", beyond))
    if spec.quality.values:
        found.append(("quality", "quality", "9k"))
    images = spec.media.get("image_urls")
    if images is not None and images.maximum is not None:
        found.append(("images", "image_urls", ["https://example.com/character.jpg"] * (images.maximum + 1)))
    videos = spec.media.get("video_urls")
    if videos is not None and videos.maximum is not None:
        found.append(("videos", "video_urls", ["https://example.com/reference.mp4"] * (videos.maximum + 1)))
    if spec.prompt_max_chars is not None:
        found.append(("prompt", "prompt", "x" * (spec.prompt_max_chars + 1)))
    enum = next((name for name, facts in spec.fields.items() if facts.enum and facts.type == "string"), None)
    if enum is not None:
        found.append(("value", enum, "not-a-documented-value"))
    ranged = next((name for name, facts in spec.fields.items() if facts.maximum is not None), None)
    if ranged is not None:
        found.append(("range", ranged, int(spec.fields[ranged].maximum or 0) + 1))
    return found


def _with(example: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    head, _, child = field.partition(".")
    if not child:
        return {**example, field: value}
    return {**example, head: {**(example.get(head) or {}), child: value}}


VIOLATIONS = [(model, *violation) for model, spec in model_specs().items() for violation in _violations(spec)]


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_the_example_of_every_id_validates_to_its_family_class_and_is_sent_unchanged(model: str) -> None:
    request = parse_request(EXAMPLES[model])
    assert type(request) is request_class(model) is not VideoGenerationRequest
    assert request.to_api_json() == EXAMPLES[model]


def test_every_id_has_a_documented_violation_to_refuse() -> None:
    assert {model for model, *_ in VIOLATIONS} == set(EXAMPLES)


@pytest.mark.parametrize(("model", "kind", "field", "value"), VIOLATIONS, ids=lambda item: str(item)[:40])
def test_a_documented_violation_is_refused_naming_the_field(model: str, kind: str, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_request(_with(EXAMPLES[model], field, value))
    error = refused.value.errors()[0]
    assert tuple(error["loc"][:2]) == tuple(field.split("."))[:2], (kind, error)
    assert field in str(refused.value)


def test_every_catalogue_id_is_listed_in_the_shared_list_of_documented_ids() -> None:
    assert len(model_specs()) == 89
    assert all(
        spec.page.startswith("https://evolink.ai/docs/en/api-manual/video-series/") for spec in model_specs().values()
    )
