"""
Where a task's cost estimate comes from, and what it is checked against after submitting.

Three sources, tried in this order, each named wherever the estimate appears (the task log, XCom
``evolink_usage``, the lineage facet, Asset events):

1. :data:`PRICE_LIST` — EvoLink's live price list (``GET /web/api/models/pricing``; :mod:`.price_list`), when it
   could be read and prices the model;
2. :data:`CATALOGUE` — the catalogue's published per-second price (``api_reference/catalogue.json``, copied from
   EvoLink's product pages; :func:`~airflow_provider_evolink.models.estimate_credits`, which knows no price list);
3. :data:`CREDITS_PER_SECOND` — the task's own ``credits_per_second`` × the request's seconds.

After submitting, the create answer's ``usage.credits_reserved`` is the authority; :func:`reserved_warning` says
when it differs from the estimate by more than :data:`RESERVED_TOLERANCE`. Sources:
``airflow_provider_evolink/api_reference/evolink-api.md`` ("Pricing", "Price list").
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from airflow_provider_evolink.models.catalogue import PricedRequest, model_spec
from airflow_provider_evolink.models.media import media_fields
from airflow_provider_evolink.models.price_list import PriceList, list_estimate
from airflow_provider_evolink.models.pricing import estimate_credits
from airflow_provider_evolink.models.requests import EvoLinkRequest

__all__ = [
    "CATALOGUE",
    "CREDITS_PER_SECOND",
    "PRICE_LIST",
    "RESERVED_TOLERANCE",
    "SOURCE_NAMES",
    "CostEstimate",
    "estimate_cost",
    "reserved_warning",
]

#: The estimate came from EvoLink's live price list.
PRICE_LIST = "price_list"
#: The estimate came from the catalogue's published per-second price.
CATALOGUE = "catalogue"
#: The estimate came from the task's ``credits_per_second``.
CREDITS_PER_SECOND = "credits_per_second"
#: How logs and messages name each source.
SOURCE_NAMES = {
    PRICE_LIST: "EvoLink's price list",
    CATALOGUE: "the catalogue's published price",
    CREDITS_PER_SECOND: "the task's credits_per_second",
}
#: A reservation that differs from the estimate by more than this share of the estimate is logged as a warning.
RESERVED_TOLERANCE = 0.10


class CostEstimate(NamedTuple):
    """A request's expected cost.

    :ivar credits: credits the task is expected to reserve; ``None``: no source prices it.
    :ivar source: :data:`PRICE_LIST`, :data:`CATALOGUE`, :data:`CREDITS_PER_SECOND`, or ``None`` without a figure.
    :ivar basis: how the figure was made (or why there is none), in words, for the log.
    """

    credits: float | None
    source: str | None
    basis: str

    @property
    def source_name(self) -> str:
        """The source as logs name it ("EvoLink's price list", ...), ``"no source"`` without a figure."""
        return SOURCE_NAMES.get(self.source or "", "no source")

    def as_usage(self) -> dict[str, Any]:
        """The keys this estimate adds to XCom ``evolink_usage``: ``credits_estimated`` (credits or ``None``),
        ``estimate_source`` (one of the source constants or ``None``) and ``estimate_basis`` (words)."""
        return {"credits_estimated": self.credits, "estimate_source": self.source, "estimate_basis": self.basis}

    @classmethod
    def from_usage(cls, usage: Mapping[str, Any] | None) -> "CostEstimate | None":
        """The estimate an ``evolink_usage`` value recorded (:meth:`as_usage`), ``None`` if it holds none."""
        if not isinstance(usage, Mapping) or "estimate_source" not in usage:
            return None
        return cls(usage.get("credits_estimated"), usage.get("estimate_source"), str(usage.get("estimate_basis", "")))


def estimate_cost(
    request: EvoLinkRequest,
    price_list: PriceList | None,
    *,
    credits_per_second: float | None = None,
    list_problem: str | None = None,
) -> CostEstimate:
    """The expected cost of a validated request, from the first source that prices it (module docstring).

    :param price_list: EvoLink's price list as read (``None``: not read, or it could not be).
    :param credits_per_second: the task's own price, credits per second of output, used when neither the price
        list nor the catalogue prices the request.
    :param list_problem: why there is no price list (said in the basis).
    """
    priced = _priced(request)
    notes = [list_problem] if price_list is None and list_problem else []
    if price_list is not None:
        if skus := price_list.skus(request.model):
            listed = list_estimate(
                skus,
                priced,
                videos=_videos(request),
                input_images=sum(1 for field in media_fields(request) if _kind(field) == "image"),
                input_video_seconds=_input_video_bound(request, priced),
                factor=_filter_factor(request, priced),
            )
            if listed.credits is not None:
                return CostEstimate(listed.credits, PRICE_LIST, _with_bound_note(request, priced, listed.basis))
            notes.append(f"EvoLink's price list: {listed.basis}")
        else:
            notes.append(f"EvoLink's price list does not list {request.model}")
    if (published := estimate_credits(request)) is not None:
        basis = _with_bound_note(request, priced, f"{priced.quality}, {priced.seconds} s at the published rate")
        return CostEstimate(published, CATALOGUE, "; ".join([*notes, basis]))
    own = estimate_credits(request, credits_per_second=credits_per_second) if credits_per_second is not None else None
    if own is not None:
        basis = f"{credits_per_second:g} credits per second × {priced.seconds or getattr(request, 'duration', '?')} s"
        return CostEstimate(own, CREDITS_PER_SECOND, "; ".join([*notes, basis]))
    if priced.seconds is None and _follows_input(request):
        notes.append("it is billed on the length of its input, which is not known before submitting")
    return CostEstimate(None, None, "; ".join([*notes, "no published price"]))


def reserved_warning(estimate: CostEstimate | None, reserved: float | None) -> str | None:
    """A warning when EvoLink reserved more than :data:`RESERVED_TOLERANCE` away from the estimate, else ``None``.

    :param reserved: ``usage.credits_reserved`` of the create answer (``POST /v1/videos/generations``), credits.
    """
    if estimate is None or not estimate.credits or reserved is None:
        return None
    difference = (reserved - estimate.credits) / estimate.credits
    if abs(difference) <= RESERVED_TOLERANCE:
        return None
    return (
        f"EvoLink reserved {reserved:g} credits, {difference:+.0%} against the estimate of {estimate.credits:g} "
        f"from {estimate.source_name} ({estimate.basis}): the reservation is what the task is charged"
    )


def _priced(request: EvoLinkRequest) -> PricedRequest:
    """What the price depends on: the request model's own view, else read from the fields of an untyped request."""
    if (priced := request.priced()) is not None:
        return priced
    duration = getattr(request, "duration", None)
    quality = getattr(request, "quality", None) or getattr(request, "resolution", None)
    sound = getattr(request, "generate_audio", None) or getattr(request, "sound", None) in (True, "on")
    return PricedRequest(
        quality=quality if isinstance(quality, str) else "",
        seconds=duration if isinstance(duration, int) and not isinstance(duration, bool) and duration > 0 else None,
        sound=bool(sound),
        video_input=any(_kind(field) == "video" for field in media_fields(request)),
        filter_off=getattr(request, "content_filter", None) is False,
    )


def _videos(request: EvoLinkRequest) -> int:
    """Videos one task makes (``n``, 1 when omitted)."""
    count = getattr(request, "n", None)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 1 else 1


def _filter_factor(request: EvoLinkRequest, priced: PricedRequest) -> float:
    """The catalogue's factor for ``content_filter`` false (the price list does not carry it)."""
    spec = model_spec(request.model)
    return spec.price.content_filter_off if priced.filter_off and spec and spec.price else 1.0


def _input_video_bound(request: EvoLinkRequest, priced: PricedRequest) -> int | None:
    """The most input video seconds a "with video input" price bills beside the output (the catalogue's bound)."""
    spec = model_spec(request.model)
    return spec.price.video_input_max_seconds if spec and spec.price and priced.video_input else None


def _follows_input(request: EvoLinkRequest) -> bool:
    """The output (and the bill) follows an input video or audio: a catalogue model without a ``duration`` (video
    edit, motion control); an untyped one asked for no ``duration`` and given a video or audio input (upscale,
    lip-sync, avatar)."""
    if (spec := model_spec(request.model)) is not None:
        return spec.duration is None
    return getattr(request, "duration", None) is None and any(
        _kind(field) in ("video", "audio") for field in media_fields(request)
    )


def _with_bound_note(request: EvoLinkRequest, priced: PricedRequest, basis: str) -> str:
    """``basis``, saying when the seconds are an input's bound rather than the request's ``duration``."""
    if _follows_input(request) and priced.seconds is not None:
        return f"{basis} (billed on its input's length: counted at the longest input it accepts, {priced.seconds} s)"
    return basis


def _kind(field: Any) -> str:
    """``video``, ``audio`` or ``image`` for a media field (by its kind, else by its field name)."""
    if field.kind in ("video", "audio", "image"):
        return str(field.kind)
    name = str(field.loc[0]) if field.loc else ""
    return next((kind for kind in ("video", "audio", "image") if kind in name), "media")
