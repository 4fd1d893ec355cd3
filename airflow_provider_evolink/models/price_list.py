"""
EvoLink's public price list, read into per-model SKUs, and the credits one request is expected to cost by it.

The list (``GET /web/api/models/pricing`` on the API host, no API key) answers ``{"success": bool, "data": [SKU,
...]}``; a SKU is one priced item of one model (``airflow_provider_evolink/api_reference/evolink-api.md``, "Price
list"). What this module reads of a SKU:

- ``model_name`` and ``model_type`` (only ``video`` SKUs are kept), ``sku_name`` (it names the tier, e.g. ``720p``,
  and the variant, e.g. "with audio", "with video input");
- the unit price: the ``routing_note`` when it states "$<price> per <unit>", else ``price_range`` (``min_usd`` /
  ``max_usd``), else ``cny_price``; at EvoLink's display rate 1 USD = 6.8 CNY and 1 CNY = 10 credits, so one USD is
  68 credits;
- the unit: the routing note's, else from ``billing_rule`` (``per_second`` → second, ``per_image`` → image,
  ``per_token`` / ``per_1k_tokens`` → tokens, ``per_hour`` → hour, anything else → one request);
- ``resolution_multipliers`` (or the same key inside the JSON string ``metadata``): a factor by quality; a quality
  they do not name is not priced by the list (the catalogue is asked next, or ``max_credits`` fails closed);
- ``min_charge_uc``: the least a task is charged, in UC (10 000 UC = 1 credit).

A SKU is an *add-on* (an extra input or feature: input images, reference audio, web search) when its name says so
or its ``metadata`` role is ``input_image``; a token-billed SKU cannot be estimated before the task runs; every
other SKU prices the output.

Nothing here does I/O: :mod:`airflow_provider_evolink.hooks.price_list` reads and caches the list.
"""

# No `from __future__ import annotations`: NamedTuple fields are read at class creation anyway, and this keeps the
# module importable on its own (it is imported only when a task prices a request).
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from airflow_provider_evolink.models.catalogue import PricedRequest

__all__ = [
    "CREDITS_PER_USD",
    "UC_PER_CREDIT",
    "ListEstimate",
    "PriceList",
    "PriceListError",
    "Sku",
    "list_estimate",
    "parse_price_list",
]

#: Credits per US dollar at EvoLink's display rate (1 USD = 6.8 CNY, 1 CNY = 10 credits).
CREDITS_PER_USD = 68.0
#: UC (the list's smallest unit, e.g. ``min_charge_uc``) per credit.
UC_PER_CREDIT = 10_000
_CREDITS_PER_CNY = 10.0

_NOTE = re.compile(r"\$([\d,]*\.?\d+)(?:\s*[-–~]\s*\$?([\d,]*\.?\d+))?\s+per\s+([A-Za-z0-9 ]+?)(?=[.,;]|$)")
_ADD_ON = re.compile(
    r"\binput (?:image|images|video|audio|text)\b|\breference (?:image|images|video seconds|audio)\b|web search"
    r"|cached|cache (?:hit|write)|asset upload",
    re.IGNORECASE,
)
_TIER = re.compile(r"\b(\d+(?:\.\d+)?k|\d{3,4}p)\b", re.IGNORECASE)
_AUDIO = re.compile(r"\b(?:audio|sound)\b", re.IGNORECASE)
_VIDEO_INPUT = re.compile(r"\bvideo input\b|\breference video\b|\bwith video\b", re.IGNORECASE)
_UNITS = {"per_second": "second", "per_image": "image", "per_hour": "hour", "per_token": "token"}
#: Units priced once per video the task makes.
_PER_VIDEO = frozenset({"request", "video", "call", "generation", "task"})


class PriceListError(ValueError):
    """The price list's answer is not in the documented shape (``data`` is not a list of SKUs)."""


class Sku(NamedTuple):
    """One priced item of a model.

    :ivar name: ``sku_name`` (it names the tier and the variant).
    :ivar unit: what one price buys: ``second``, ``request``, ``image``, ``token``, ``1K tokens``, ``hour``…
    :ivar credits: the unit price in credits, lowest and highest (equal unless the list gives a range).
    :ivar role: ``output`` (the generated video), ``add_on`` (extra inputs or features) or ``token``.
    :ivar multipliers: factor by quality (``{"1080p": 1.334}``); empty when the list gives none.
    :ivar min_charge: the least a task is charged, in credits (0: none).
    """

    name: str
    unit: str
    credits: tuple[float, float]
    role: str
    multipliers: Mapping[str, float]
    min_charge: float


class PriceList(NamedTuple):
    """The video SKUs of EvoLink's price list by model id, and when they were read (``fetched_at``, epoch seconds)."""

    models: Mapping[str, tuple[Sku, ...]]
    fetched_at: float

    def skus(self, model: str) -> tuple[Sku, ...]:
        """The SKUs of ``model`` (its id exactly, else case-insensitively, as model ids are case-sensitive only at
        EvoLink's end), empty when the list does not price it."""
        if model in self.models:
            return self.models[model]
        lower = model.lower()
        return next((skus for name, skus in self.models.items() if name.lower() == lower), ())


class ListEstimate(NamedTuple):
    """What the price list says one request costs: ``credits`` (``None``: it cannot tell) and ``basis``, how the
    figure was made or why there is none, in one sentence."""

    credits: float | None
    basis: str


def parse_price_list(body: Any, fetched_at: float) -> PriceList:
    """The video SKUs of a ``GET /web/api/models/pricing`` answer (a parsed JSON body).

    SKUs without a ``model_name``, of another ``model_type``, or without a readable price are skipped.

    :param fetched_at: when the answer was read, in epoch seconds.
    :raises PriceListError: the body is not ``{"data": [...]}``, or says ``success: false``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or body.get("success") is False:
        raise PriceListError("the price list answer is not {'success': true, 'data': [SKU, ...]}")
    models: dict[str, list[Sku]] = {}
    for item in body["data"]:
        if not isinstance(item, dict) or item.get("model_type") != "video":
            continue
        if not isinstance(item.get("model_name"), str):
            continue
        if (sku := _sku(item)) is not None:
            models.setdefault(item["model_name"], []).append(sku)
    return PriceList({model: tuple(skus) for model, skus in models.items()}, fetched_at)


def list_estimate(
    skus: Sequence[Sku],
    priced: PricedRequest,
    *,
    videos: int = 1,
    input_images: int = 0,
    input_video_seconds: int | None = None,
    factor: float = 1.0,
) -> ListEstimate:
    """Credits one request is expected to reserve by the price list: the upper end where the list leaves a range.

    Output SKUs of the request's quality (by the tier in their name; untiered SKUs price every quality), narrowed to
    the variant it asks for (with or without audio, with or without a reference video) when the list tells them
    apart. Each: unit price × quantity (seconds billed, or one per video) × its resolution multiplier, at least its
    minimum charge; the dearest candidate is kept. Then × ``videos`` and × ``factor``, plus per-image add-ons ×
    ``input_images``. Rounded up to 4 decimals.

    :param priced: quality, output seconds (``None``: the output follows an input of unknown length), sound, a
        reference video given.
    :param videos: videos the task makes (``n``).
    :param input_images: input images the request carries (priced by per-image add-ons).
    :param input_video_seconds: input video seconds billed beside the output by a "with video input" SKU (their
        bound); ``None``: as many as the output's.
    :param factor: a factor the list does not carry (e.g. 1.1 with ``content_filter`` false).
    """
    outputs = [sku for sku in skus if sku.role == "output"]
    if not outputs:
        if any(sku.role == "token" for sku in skus):
            return ListEstimate(None, "the price list bills this model by tokens used, known only after it runs")
        return ListEstimate(None, "the price list has no price for this model's output")
    candidates = _variant(_tier(outputs, priced.quality), _AUDIO, priced.sound)
    candidates = _variant(candidates, _VIDEO_INPUT, priced.video_input)
    charges = [_charge(sku, priced, input_video_seconds) for sku in candidates]
    known = [charge for charge in charges if charge.credits is not None]
    if not known:
        return charges[0]
    dearest = max(known, key=lambda charge: charge.credits or 0.0)
    total = (dearest.credits or 0.0) * videos * factor
    basis = [dearest.basis]
    if videos > 1:
        basis.append(f"× {videos} videos")
    if factor != 1.0:
        basis.append(f"× {factor:g} (content_filter off)")
    for sku in skus:
        if sku.role == "add_on" and sku.unit == "image" and input_images:
            total += sku.credits[1] * input_images
            basis.append(f"+ {sku.name}: {sku.credits[1]:g} × {input_images} input images")
    # round() first: binary floating point must not add 0.0001 to an exact product.
    return ListEstimate(math.ceil(round(total * 10_000, 6)) / 10_000, " ".join(basis))


def _charge(sku: Sku, priced: PricedRequest, input_video_seconds: int | None) -> ListEstimate:
    """What one output SKU charges for the request (before ``n``, factors and add-ons)."""
    multiplier = _multiplier(sku, priced.quality)
    if multiplier is None:
        return ListEstimate(None, f"{sku.name} has no resolution multiplier for {priced.quality}")
    if sku.unit == "second":
        if priced.seconds is None:
            return ListEstimate(
                None, f"{sku.name} bills each second of the input it follows, not known before submitting"
            )
        seconds = priced.seconds
        quantity = f"{seconds} s"
        if _VIDEO_INPUT.search(sku.name) and priced.video_input:
            billed_input = max(input_video_seconds or 0, seconds)
            quantity = f"({seconds} s output + {billed_input} s input video, counted at its bound)"
            seconds += billed_input
        credits = sku.credits[1] * seconds * multiplier
    elif sku.unit in _PER_VIDEO:
        credits, quantity = sku.credits[1] * multiplier, "1 video"
    else:
        return ListEstimate(None, f"{sku.name} is billed per {sku.unit}, which is not known before submitting")
    basis = f"{sku.name}: {sku.credits[1]:g} credits per {sku.unit} × {quantity}"
    if multiplier != 1.0:
        basis += f" × {multiplier:g} ({priced.quality})"
    if credits < sku.min_charge:
        credits, basis = sku.min_charge, f"{basis}, raised to its minimum charge of {sku.min_charge:g}"
    return ListEstimate(credits, basis)


def _tier(skus: list[Sku], quality: str) -> list[Sku]:
    """The SKUs whose name names ``quality``; else those naming no tier; else all (the dearest is then kept)."""
    wanted = quality.lower()
    matching = [sku for sku in skus if wanted in (tier.lower() for tier in _TIER.findall(sku.name))]
    untiered = [sku for sku in skus if not _TIER.search(sku.name)]
    return matching or untiered or skus


def _variant(skus: list[Sku], words: re.Pattern[str], wanted: bool) -> list[Sku]:
    """The SKUs whose name says ``words`` (``wanted``) or does not; all of them when that leaves none."""
    chosen = [sku for sku in skus if bool(words.search(sku.name)) == wanted]
    return chosen or skus


def _multiplier(sku: Sku, quality: str) -> float | None:
    """The SKU's factor for ``quality``: 1 without multipliers; ``None`` when they do not name it (the list then
    does not price that quality: the next source is asked, or the budget check fails closed); the largest when the
    request names no quality (an upper bound)."""
    factors = {key.lower(): value for key, value in sku.multipliers.items()}
    if not factors:
        return 1.0
    return factors.get(quality.lower()) if quality else max(factors.values())


def _sku(item: dict[str, Any]) -> Sku | None:
    """One SKU of the list, ``None`` when it carries no readable price."""
    name = str(item.get("sku_name") or item.get("sku_id") or "")
    price = _unit_price(item)
    if price is None:
        return None
    unit, low, high = price
    metadata = _metadata(item.get("metadata"))
    token = "token" in unit
    add_on = not token and (metadata.get("role") == "input_image" or bool(_ADD_ON.search(name)))
    multipliers = item.get("resolution_multipliers") or metadata.get("resolution_multipliers") or {}
    minimum: float = item["min_charge_uc"] if _positive(item.get("min_charge_uc")) and not token else 0.0
    return Sku(
        name=name,
        unit=unit,
        credits=(low, high),
        role="token" if token else "add_on" if add_on else "output",
        multipliers={
            str(key): float(value)
            for key, value in (multipliers.items() if isinstance(multipliers, dict) else ())
            if _positive(value)
        },
        min_charge=minimum / UC_PER_CREDIT,
    )


def _unit_price(item: dict[str, Any]) -> tuple[str, float, float] | None:
    """``(unit, lowest, highest)`` in credits: the routing note first (it carries the corrected unit), then the
    ``price_range`` (USD), then ``cny_price``."""
    note = _NOTE.search(str(item.get("routing_note") or ""))
    if note is not None:
        low = float(note.group(1).replace(",", ""))
        high = float(note.group(2).replace(",", "")) if note.group(2) else low
        return note.group(3).strip().lower(), low * CREDITS_PER_USD, high * CREDITS_PER_USD
    rule = str(item.get("billing_rule") or "")
    unit = "1K tokens" if rule.startswith("per_1k") else _UNITS.get(rule, "request")
    price_range = item.get("price_range")
    if isinstance(price_range, dict) and _number(price_range.get("min_usd")) and _number(price_range.get("max_usd")):
        return unit, price_range["min_usd"] * CREDITS_PER_USD, price_range["max_usd"] * CREDITS_PER_USD
    if _number(item.get("cny_price")):
        return unit, item["cny_price"] * _CREDITS_PER_CNY, item["cny_price"] * _CREDITS_PER_CNY
    return None


def _metadata(value: Any) -> dict[str, Any]:
    """``metadata``: a JSON object in a string; anything else reads as empty."""
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0
