"""EvoLink's price list: reading SKUs (unit price, unit, role, multipliers, minimum charge) and turning them into the
estimate of one request; and which source prices a request (price list, catalogue, the task's credits_per_second)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_evolink.models import parse_request
from airflow_provider_evolink.models.catalogue import PricedRequest
from airflow_provider_evolink.models.cost_estimate import (
    CATALOGUE,
    CREDITS_PER_SECOND,
    PRICE_LIST,
    CostEstimate,
    estimate_cost,
    reserved_warning,
)
from airflow_provider_evolink.models.price_list import PriceListError, list_estimate, parse_price_list
from airflow_provider_evolink.models.pricing import credit_usage, estimate_credits


def sku(model: str = "kling-o3-text-to-video", **fields: Any) -> dict[str, Any]:
    """One video SKU in the list's shape: 5.4 credits per second (0.54 CNY) unless ``fields`` say otherwise."""
    return {"sku_name": "Kling O3", "model_name": model, "model_type": "video", "billing_rule": "per_second"} | (
        fields or {"cny_price": 0.54}
    )


def listed(*skus: dict[str, Any]) -> Any:
    return parse_price_list({"success": True, "data": list(skus)}, fetched_at=0.0)


def o3_text(**fields: Any) -> Any:
    return parse_request({"model": "kling-o3-text-to-video", "prompt": "a fox", **fields})


# ------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize(
    ("fields", "unit", "credits"),
    [
        ({"cny_price": 0.54}, "second", (5.4, 5.4)),  # 1 CNY = 10 credits
        ({"price_range": {"min_usd": 0.05, "max_usd": 0.1}, "cny_price": 9}, "second", (3.4, 6.8)),  # 68 per USD
        ({"routing_note": "Billed $0.25 per video.", "cny_price": 9}, "video", (17.0, 17.0)),  # the note wins
        ({"routing_note": "$1,000 - $2,000 per hour", "cny_price": 9}, "hour", (68_000.0, 136_000.0)),
        ({"billing_rule": "per_call", "cny_price": 1}, "request", (10.0, 10.0)),
    ],
)
def test_a_sku_unit_price_is_read_in_credits(fields: dict[str, Any], unit: str, credits: tuple[float, float]) -> None:
    (read,) = listed(sku(**fields)).models["kling-o3-text-to-video"]
    assert read.unit == unit
    assert read.credits == pytest.approx(credits)


def test_roles_multipliers_and_minimum_charge_are_read() -> None:
    price_list = listed(
        sku(sku_name="O3", cny_price=0.54, resolution_multipliers={"1080p": 1.334, "4k": 0}, min_charge_uc=243_000),
        sku(sku_name="O3 input image", cny_price=0.1, billing_rule="per_image"),
        sku(sku_name="O3 tokens", cny_price=0.1, billing_rule="per_1k_tokens"),
        sku(
            sku_name="O3 meta", cny_price=0.1, metadata='{"role": "input_image", "resolution_multipliers": {"720p": 2}}'
        ),
    )
    base, image, tokens, meta = price_list.models["kling-o3-text-to-video"]
    assert (base.role, base.multipliers, base.min_charge) == ("output", {"1080p": 1.334}, 24.3)  # 10 000 UC = 1
    assert (image.role, image.unit) == ("add_on", "image")
    assert (tokens.role, tokens.unit, tokens.min_charge) == ("token", "1K tokens", 0.0)
    assert (meta.role, meta.multipliers) == ("add_on", {"720p": 2.0})


def test_only_priced_video_skus_are_kept_and_model_ids_match_case_insensitively() -> None:
    price_list = listed(
        sku("MiniMax-Hailuo-02"),
        sku("an-image-model", model_type="image", cny_price=1),
        sku("no-price", sku_name="free?"),
        {"model_type": "video"},
        "not a sku",
    )
    assert set(price_list.models) == {"MiniMax-Hailuo-02"}
    assert price_list.skus("minimax-hailuo-02") == price_list.skus("MiniMax-Hailuo-02") != ()
    assert price_list.skus("kling-o3-text-to-video") == ()


@pytest.mark.parametrize("body", [None, [], {"data": {}}, {"success": False, "data": []}, {"success": True}])
def test_a_body_that_is_not_a_price_list_is_refused(body: Any) -> None:
    with pytest.raises(PriceListError, match="data"):
        parse_price_list(body, fetched_at=0.0)


# -------------------------------------------------------------------------------------------- SKU rules
def priced(quality: str = "720p", seconds: int | None = 5, **flags: bool) -> PricedRequest:
    return PricedRequest(quality, seconds, **flags)


def test_per_second_times_the_resolution_multiplier() -> None:
    skus = listed(sku(cny_price=0.54, resolution_multipliers={"720p": 1, "1080p": 1.334})).skus(
        "kling-o3-text-to-video"
    )
    assert list_estimate(skus, priced("720p", 5)).credits == 27.0
    estimate = list_estimate(skus, priced("1080p", 10))
    assert estimate.credits == 72.036  # 5.4 x 10 x 1.334
    assert "× 1.334 (1080p)" in estimate.basis
    # A quality the multipliers do not name is not priced by the list (the next source is asked).
    assert list_estimate(skus, priced("4k", 5)).credits is None


def test_the_minimum_charge_raises_a_short_task() -> None:
    skus = listed(sku(cny_price=0.81, min_charge_uc=243_000)).skus("kling-o3-text-to-video")
    estimate = list_estimate(skus, priced(seconds=2))
    assert estimate.credits == 24.3
    assert "minimum charge" in estimate.basis


def test_the_tier_in_a_sku_name_and_the_audio_variant_choose_the_sku() -> None:
    skus = listed(
        sku(sku_name="O3 720p", cny_price=0.54),
        sku(sku_name="O3 720p with audio", cny_price=0.72036),
        sku(sku_name="O3 1080p", cny_price=0.72036),
    ).skus("kling-o3-text-to-video")
    assert list_estimate(skus, priced("720p", 5)).credits == 27.0
    assert list_estimate(skus, priced("720p", 5, sound=True)).credits == 36.018
    assert list_estimate(skus, priced("1080p", 5)).credits == 36.018


def test_a_video_input_variant_bills_the_input_seconds_at_their_bound() -> None:
    skus = listed(
        sku("seedance-2.0-reference-to-video", sku_name="Seedance r2v", cny_price=1.35),
        sku("seedance-2.0-reference-to-video", sku_name="Seedance r2v with video input", cny_price=0.8222),
    ).skus("seedance-2.0-reference-to-video")
    assert list_estimate(skus, priced(seconds=5)).credits == 67.5
    with_video = list_estimate(skus, priced(seconds=5, video_input=True), input_video_seconds=15)
    assert with_video.credits == 164.44  # (5 s + 15 s) x 8.222, EvoLink's worked rule
    assert "15 s input video" in with_video.basis


def test_per_video_prices_count_n_and_image_add_ons_count_the_inputs() -> None:
    skus = listed(
        sku("veo", billing_rule="per_video", routing_note="$0.5 per video"),
        sku("veo", sku_name="Veo input image", billing_rule="per_image", cny_price=0.2),
    ).skus("veo")
    estimate = list_estimate(skus, priced(seconds=None), videos=2, input_images=3)
    assert estimate.credits == 74.0  # 34 x 2 videos + 2 x 3 images
    assert "× 2 videos" in estimate.basis


@pytest.mark.parametrize(
    ("skus", "why"),
    [
        ([sku(sku_name="O3 tokens", billing_rule="per_token", cny_price=0.1)], "tokens"),
        ([sku(sku_name="O3 input image", billing_rule="per_image", cny_price=0.1)], "no price"),
        ([sku(sku_name="O3", billing_rule="per_hour", cny_price=1)], "per hour"),
    ],
)
def test_what_the_list_cannot_estimate_says_why(skus: list[dict[str, Any]], why: str) -> None:
    estimate = list_estimate(listed(*skus).skus("kling-o3-text-to-video"), priced())
    assert estimate.credits is None
    assert why in estimate.basis


def test_a_model_billed_on_its_input_says_so() -> None:
    skus = listed(sku("topaz-video-upscale", sku_name="Upscale", cny_price=0.2)).skus("topaz-video-upscale")
    estimate = list_estimate(skus, priced(seconds=None))
    assert estimate.credits is None
    assert "input it follows" in estimate.basis


# ------------------------------------------------------------------------------------------ the sources
def test_the_price_list_comes_first_then_the_catalogue_then_credits_per_second() -> None:
    dearer = listed(sku(cny_price=0.6))  # 6 credits/s where the catalogue publishes 5.4

    assert estimate_cost(o3_text(), dearer) == CostEstimate(30.0, PRICE_LIST, "Kling O3: 6 credits per second × 5 s")
    from_catalogue = estimate_cost(o3_text(), listed(sku("another-model")))
    assert from_catalogue[:2] == (27.0, CATALOGUE)
    assert "does not list kling-o3-text-to-video" in from_catalogue.basis
    unreachable = estimate_cost(o3_text(), None, list_problem="EvoLink's price list could not be read (HTTP 503)")
    assert unreachable[:2] == (27.0, CATALOGUE)
    assert "HTTP 503" in unreachable.basis

    mini = parse_request({"model": "seedance-2.0-mini-text-to-video", "prompt": "a fox", "duration": 4})
    assert estimate_cost(mini, dearer).credits is None
    own = estimate_cost(mini, dearer, credits_per_second=2.5)
    assert own[:2] == (10.0, CREDITS_PER_SECOND)
    assert "2.5 credits per second × 4 s" in own.basis
    assert estimate_credits(o3_text()) == 27.0  # the catalogue's alone: it knows no price list


def test_an_untyped_model_is_priced_by_the_list_from_its_fields() -> None:
    price_list = listed(sku("MiniMax-Hailuo-02", cny_price=0.3, resolution_multipliers={"768p": 1, "1080p": 2}))
    request = parse_request({"model": "MiniMax-Hailuo-02", "prompt": "a fox", "duration": 6, "quality": "1080p"})
    assert estimate_cost(request, price_list)[:2] == (36.0, PRICE_LIST)
    assert estimate_cost(request, None).credits is None  # no published price: max_credits fails closed


@pytest.mark.parametrize(
    ("model", "inputs"),
    [
        ("topaz-video-upscale", {"video_urls": ["https://cdn.example.com/in.mp4"]}),  # typed: billed on its input
        ("acme-video-upscale", {"video_url": "https://cdn.example.com/in.mp4"}),  # an id the catalogue lacks
    ],
)
def test_a_model_billed_on_its_input_video_says_how(model: str, inputs: dict[str, object]) -> None:
    price_list = listed(sku(model, sku_name="Upscale", cny_price=0.2))
    request = parse_request({"model": model, **inputs})
    estimate = estimate_cost(request, price_list)
    assert estimate.credits is None
    assert "billed on the length of its input" in estimate.basis
    assert estimate_cost(request, price_list, credits_per_second=1.0).credits is None  # no seconds to multiply


def test_motion_control_is_counted_at_the_longest_reference_and_says_so() -> None:
    request = parse_request(
        {
            "model": "kling-v3-motion-control",
            "image_urls": ["https://cdn.example.com/a.jpg"],
            "video_urls": ["https://cdn.example.com/b.mp4"],
            "model_params": {"character_orientation": "video"},
        }
    )
    estimate = estimate_cost(request, None)
    assert estimate[:2] == (244.944, CATALOGUE)  # 8.1648 x 30 s
    assert "longest input it accepts, 30 s" in estimate.basis


@pytest.mark.parametrize(("reserved", "warned"), [(27.0, False), (29.7, False), (29.8, True), (24.2, True)])
def test_a_reservation_more_than_ten_percent_off_the_estimate_is_a_warning(reserved: float, warned: bool) -> None:
    estimate = CostEstimate(27.0, CATALOGUE, "720p, 5 s at the published rate")
    warning = reserved_warning(estimate, reserved)
    assert (warning is not None) == warned
    if warning:
        assert "the catalogue's published price" in warning
        assert f"{reserved:g}" in warning
    assert reserved_warning(CostEstimate(None, None, "no published price"), 40.0) is None
    assert reserved_warning(estimate, None) is None


def test_xcom_usage_carries_the_estimate_and_reads_back() -> None:
    estimate = CostEstimate(27.0, PRICE_LIST, "Kling O3: 5.4 credits per second × 5 s")
    usage = credit_usage(None, estimate=estimate.as_usage())
    assert usage["credits_estimated"] == 27.0
    assert usage["estimate_source"] == "price_list"
    assert CostEstimate.from_usage(usage) == estimate
    assert CostEstimate.from_usage(credit_usage(None)) is None
