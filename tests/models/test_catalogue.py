"""The catalogue (``api_reference/catalogue.json``): every entry is complete and consistent, its contract document
has a schema for it, and ``docs/models.md`` is what ``scripts/models_table.py`` generates from it."""

from __future__ import annotations

import runpy
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from airflow_provider_evolink.models import estimate_credits, model_specs, parse_request
from airflow_provider_evolink.models.requests import VideoGenerationRequest, request_class

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = files("airflow_provider_evolink") / "api_reference" / "openapi"


def test_docs_models_page_is_generated_from_the_catalogue() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "models_table.py"))["render"]
    page = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert page == render(), "docs/models.md is stale: run python scripts/models_table.py"
    assert all(f"[`{model}`]" in page for model in model_specs())


def test_the_readme_links_the_models_page() -> None:
    assert "/models.html" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("model", sorted(model_specs()))
def test_every_catalogue_model_has_its_own_request_class_and_contract_schema(model: str) -> None:
    spec = model_specs()[model]
    assert request_class(model) is not VideoGenerationRequest
    schemas = yaml.safe_load((OPENAPI / spec.contract).read_text(encoding="utf-8"))["components"]["schemas"]
    assert model in schemas or "VideoGenerationRequest" in schemas
    if spec.duration is not None:
        assert spec.duration.minimum <= (spec.duration.default or spec.duration.minimum) <= (spec.duration.maximum or 0)
    assert spec.quality.default in spec.quality.values or not spec.quality.values  # none: the model has no field
    if spec.price is not None:
        assert set(spec.price.credits) <= (set(spec.quality.values) or {spec.quality.default})
    assert spec.page.startswith("https://")
    assert spec.render_seconds > 0


def test_a_new_model_of_a_typed_family_and_mode_is_one_catalogue_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    new = "seedance-2.0-pro-text-to-video"
    entry = model_specs()["seedance-2.0-text-to-video"]._replace(model=new)
    monkeypatch.setitem(model_specs(), new, entry)  # what reading a catalogue with one more entry gives

    request = parse_request({"model": new, "prompt": "p", "duration": 15})
    assert type(request).__name__ == "SeedanceTextToVideoRequest"
    assert estimate_credits(request) == 15 * 13.5
