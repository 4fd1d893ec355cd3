"""The emulator's price list: EvoLink's shape, public, driven by the catalogue's prices, changeable while it runs,
and in agreement with the credits its tasks reserve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from catalogue_cases import examples

from airflow_provider_evolink.emulator import EvoLinkEmulator
from airflow_provider_evolink.emulator.price_list import PriceBook
from airflow_provider_evolink.models import parse_request
from airflow_provider_evolink.models.catalogue import model_specs
from airflow_provider_evolink.models.cost_estimate import PRICE_LIST, estimate_cost
from airflow_provider_evolink.models.price_list import parse_price_list

PATH = "/web/api/models/pricing"


@pytest.fixture(scope="module")
def emu() -> Iterator[EvoLinkEmulator]:
    with EvoLinkEmulator(processing_seconds=0.0, fetch_inputs=False) as emulator:
        yield emulator


def price_list(emu: EvoLinkEmulator) -> Any:
    response = httpx.get(emu.base_url + PATH)  # no key: the list is public
    assert response.status_code == 200
    return parse_price_list(response.json(), 0.0)


def reserve(emu: EvoLinkEmulator, body: dict[str, Any]) -> float:
    response = httpx.post(
        f"{emu.base_url}/v1/videos/generations", json=body, headers={"Authorization": f"Bearer {emu.api_key}"}
    )
    assert response.status_code == 200, response.text
    return float(response.json()["usage"]["credits_reserved"])


def test_the_list_prices_every_model_the_catalogue_prices_in_evolinks_shape(emu: EvoLinkEmulator) -> None:
    body = httpx.get(emu.base_url + PATH).json()
    priced = {model for model, spec in model_specs().items() if spec.price is not None}

    assert body["success"] is True
    assert {sku["model_name"] for sku in body["data"]} == priced
    for sku in body["data"]:
        assert sku["model_type"] == "video"
        assert sku["billing_rule"] == "per_second"
        assert sku["cny_price"] > 0
        assert min(sku["resolution_multipliers"].values()) == 1.0
    o3 = [sku for sku in body["data"] if sku["model_name"] == "kling-o3-reference-to-video"]
    assert [sku["min_charge_uc"] for sku in o3] == [243_000]  # 3 s x 8.1 credits, 10 000 UC each


def test_every_reservation_agrees_with_the_list(emu: EvoLinkEmulator) -> None:
    listed = price_list(emu)
    compared = 0
    for model, body in examples(f"{emu.base_url}/samples").items():
        estimate = estimate_cost(parse_request(body), listed)
        if estimate.source != PRICE_LIST:
            # Only unpriced models (Seedance Mini) and those billed on an input of unknown length (O3 video edit).
            assert model_specs()[model].price is None or "input it follows" in estimate.basis, model
            continue
        reserved = reserve(emu, body)
        if body.get("video_urls") or model_specs()[model].duration is None:
            # A reference video is billed at its real length; the estimate counts it at its bound.
            assert reserved <= estimate.credits + 1e-4, model
        else:
            assert reserved == pytest.approx(estimate.credits, abs=1e-4), model
            compared += 1
    assert compared >= 8


def test_a_price_set_at_run_time_changes_the_list_and_the_reservation(emu: EvoLinkEmulator) -> None:
    body = {"model": "kling-o3-text-to-video", "prompt": "a fox", "duration": 5, "quality": "1080p"}
    try:
        emu.set_prices({"kling-o3-text-to-video": {"1080p": 10.0}})
        assert estimate_cost(parse_request(body), price_list(emu)).credits == 50.0
        assert reserve(emu, body) == 50.0
        with_sound = {**body, "sound": "on"}  # its sound rate moved by the same factor
        assert reserve(emu, with_sound) == pytest.approx(9.0018 * 10 / 7.2036 * 5, abs=1e-3)

        answer = httpx.post(f"{emu.base_url}/_emulator/prices", json={"kling-o3-text-to-video": {"1080p": 12}})
        assert answer.status_code == 200
        assert reserve(emu, body) == 60.0
    finally:
        emu.set_prices({"kling-o3-text-to-video": {"1080p": 7.2036}})
    assert reserve(emu, body) == pytest.approx(36.018)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"no-such-model": 5}, "unknown model"),
        ({"kling-o3-text-to-video": {"8k": 5}}, "no quality '8k'"),
        ({"kling-o3-text-to-video": {"720p": 0}}, "number of credits > 0"),
        ({"kling-o3-text-to-video": {"720p": True}}, "number of credits > 0"),
    ],
)
def test_a_bad_price_change_is_refused_and_changes_nothing(
    emu: EvoLinkEmulator, changes: dict[str, Any], named: str
) -> None:
    before = httpx.get(f"{emu.base_url}/_emulator/prices").json()
    answer = httpx.post(f"{emu.base_url}/_emulator/prices", json=changes)
    assert answer.status_code == 400
    assert named in answer.json()["error"]["message"]
    assert httpx.get(f"{emu.base_url}/_emulator/prices").json() == before
    with pytest.raises(ValueError, match=named):
        PriceBook(changes)


def test_a_model_without_a_published_price_gets_one_from_the_constructor() -> None:
    book = PriceBook({"seedance-2.0-mini-text-to-video": {"480p": 2.56}})
    (sku,) = [sku for sku in book.body()["data"] if sku["model_name"] == "seedance-2.0-mini-text-to-video"]
    assert sku["cny_price"] == pytest.approx(0.256)
    assert book.price("seedance-2.0-mini-text-to-video") == {"per": "second", "credits": {"480p": 2.56}}
