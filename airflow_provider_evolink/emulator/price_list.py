"""The emulator's prices: EvoLink's public price list (``GET /web/api/models/pricing``, no auth) in EvoLink's shape,
and the rates the emulator reserves credits at, from one :class:`PriceBook`, so the two always agree.

The book starts from the per-second prices of ``airflow_provider_evolink/api_reference/catalogue.json`` (the data
the repository ships; the emulator reads it, never the client's code) and can be changed while the emulator runs:
``EvoLinkEmulator(prices=...)``, ``EvoLinkEmulator.set_prices(...)`` or ``POST /_emulator/prices`` with
``{"<model id>": {"<quality>": <credits per second>}}`` (or one number for every quality the model has a price for).
A changed base rate scales the model's rates with sound and with a reference video at that quality alike.

Each priced model is listed as one SKU per variant (base, "with audio", "with video input"): ``billing_rule``
``per_second``, the lowest quality's rate as ``cny_price`` (1 CNY = 10 credits) and ``price_range`` (USD, 68 credits
per USD), ``resolution_multipliers`` for every quality with a price, and ``min_charge_uc`` (10 000 UC = 1 credit) for
a billing minimum. The shape follows ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Price list").
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from .errors import invalid_request
from .schemas import catalogue

_CREDITS_PER_CNY = 10.0
_CREDITS_PER_USD = 68.0
_UC_PER_CREDIT = 10_000
#: The rate tables of a catalogue price, each listed as its own SKU, and the words its SKU name ends with.
_VARIANTS = {"credits": "", "with_sound": " with audio", "with_video_input": " with video input"}

#: ``{model: {quality: credits per second}}``, or ``{model: credits per second}`` for every priced quality.
PriceChanges = Mapping[str, Mapping[str, float] | float]


class PriceBook:
    """The emulator's per-second prices by model: what its price list says and what its tasks reserve.

    :param prices: changes to the catalogue's prices to start with (:meth:`set_prices`).
    :raises ValueError: a change names an unknown model or a price that is not a number > 0.
    """

    def __init__(self, prices: PriceChanges | None = None) -> None:
        self._lock = threading.Lock()
        self._prices: dict[str, dict[str, Any]] = {
            model: copy.deepcopy(entry["price"]) for model, entry in catalogue().items() if entry.get("price")
        }
        if prices:
            self.set_prices(prices)

    def price(self, model: str) -> dict[str, Any] | None:
        """The catalogue-shaped price of ``model`` as it stands (``credits``, ``with_sound``… by quality), or
        ``None`` when it has none."""
        with self._lock:
            return copy.deepcopy(self._prices.get(model))

    def set_prices(self, prices: PriceChanges) -> None:
        """Change base rates (credits per second, by quality); the same model's sound and reference-video rates at
        that quality follow by the same factor. A model without a price gets one.

        :raises ValueError: an unknown model id, or a rate that is not a number > 0 (nothing is changed then).
        """
        changes = {model: _rates(model, rates, self.price(model)) for model, rates in prices.items()}
        with self._lock:
            for model, rates in changes.items():
                price = self._prices.setdefault(model, {"per": "second", "credits": {}})
                for quality, rate in rates.items():
                    old = price["credits"].get(quality)
                    for table in ("with_sound", "with_video_input"):
                        if old and quality in price.get(table, {}):
                            price[table][quality] = round(price[table][quality] * rate / old, 6)
                    price["credits"][quality] = rate

    def body(self) -> dict[str, Any]:
        """The ``GET /web/api/models/pricing`` answer: ``{"success": true, "data": [SKU, ...]}``."""
        with self._lock:
            prices = copy.deepcopy(self._prices)
        return {"success": True, "data": [sku for model, price in prices.items() for sku in _skus(model, price)]}


def price_list_router(book: PriceBook) -> APIRouter:
    """``GET /web/api/models/pricing`` (public, like EvoLink's) and ``GET|POST /_emulator/prices`` (control: the
    list as it stands; :data:`PriceChanges` to apply)."""
    router = APIRouter()

    @router.get("/web/api/models/pricing")
    async def price_list() -> Response:
        return JSONResponse(book.body())

    @router.get("/_emulator/prices")
    async def get_prices() -> Response:
        return JSONResponse(book.body())

    @router.post("/_emulator/prices")
    async def set_prices(request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("the body must be an object of model ids")
            book.set_prices(changes)
        except ValueError as error:
            return invalid_request("body", f"invalid prices: {error}")
        return JSONResponse(book.body())

    return router


def _rates(model: str, rates: Mapping[str, float] | float, price: dict[str, Any] | None) -> dict[str, float]:
    """``rates`` as ``{quality: rate}``, checked."""
    entry = catalogue().get(model)
    if entry is None:
        raise ValueError(f"unknown model {model!r}: the emulator prices the catalogue's models")
    if isinstance(rates, Mapping):
        changes = dict(rates)
    else:
        qualities = (price or {}).get("credits") or dict.fromkeys(entry["quality"]["values"])
        changes = dict.fromkeys(qualities, rates)
    for quality, rate in changes.items():
        if quality not in entry["quality"]["values"]:
            raise ValueError(f"{model} has no quality {quality!r} (one of {', '.join(entry['quality']['values'])})")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ValueError(f"the price of {model} at {quality} must be a number of credits > 0, got {rate!r}")
    return {quality: float(rate) for quality, rate in changes.items()}


def _skus(model: str, price: dict[str, Any]) -> list[dict[str, Any]]:
    """One SKU per rate table of the model's price (base, with audio, with video input)."""
    skus = []
    for table, suffix in _VARIANTS.items():
        rates: dict[str, float] = price.get(table) or {}
        if not rates:
            continue
        base = min(rates.values())
        minimum = price.get("minimum_seconds", 0) * base
        skus.append(
            {
                "sku_id": f"{model}{suffix.replace(' ', '-')}",
                "sku_name": f"{_display_name(model)}{suffix}",
                "model_name": model,
                "model_type": "video",
                "vendor_slug": catalogue()[model]["family"].split()[0].lower(),
                "billing_rule": "per_second",
                "cny_price": base / _CREDITS_PER_CNY,
                "price_range": {"min_usd": base / _CREDITS_PER_USD, "max_usd": base / _CREDITS_PER_USD},
                "resolution_multipliers": {quality: rate / base for quality, rate in rates.items()},
                "min_charge_uc": round(minimum * _UC_PER_CREDIT),
                "metadata": "{}",
            }
        )
    return skus


def _display_name(model: str) -> str:
    """How the list names a model's SKUs, e.g. "Seedance 2.0 fast text-to-video" (no quality in it: qualities are
    multipliers)."""
    entry = catalogue()[model]
    return " ".join(part for part in (entry["family"], entry["tier"], entry["mode"]) if part)
