"""The typed model catalogue: one declarative entry per EvoLink video model, read from
``airflow_provider_evolink/api_reference/catalogue.json``.

Each entry gives the model's family, tier and mode, its documented ranges and defaults (``duration``, ``quality``,
``aspect_ratio``, media counts, prompt limit), whether it may search the web, its price (credits per second by
quality; with sound, with a reference video, with the content filter off) and a typical render time. The request
models (:mod:`.seedance`), :func:`~airflow_provider_evolink.models.estimate_credits`, the emulator (which reads the
same file, not this module) and ``docs/models.md`` all read it, so a new model is one entry there.

Source of every fact: the entry's ``page`` (EvoLink's docs page of the model) and ``docs/evolink-api.md``.
"""

import functools
import json
import math
from typing import Any, NamedTuple

__all__ = [
    "Choice",
    "FieldSpec",
    "MediaSpec",
    "ModelSpec",
    "Price",
    "PricedRequest",
    "Span",
    "credits_for",
    "model_spec",
    "model_specs",
    "placeholder_ids",
]


class Span(NamedTuple):
    """An inclusive integer range (``maximum`` ``None``: unbounded) and its default when the field is omitted.

    :ivar values: the only values allowed, when the documents list them (``4, 6, 8``); ``None``: any in the range.
    :ivar also: values allowed beside the range (``-1`` or ``"auto"``: the model picks the length).
    """

    minimum: int
    maximum: int | None
    default: int | None = None
    values: tuple[int, ...] | None = None
    also: tuple[int | str, ...] = ()


class MediaSpec(NamedTuple):
    """A documented media field: item counts (a single-URL field counts 1 when given), its kind (``image``,
    ``video`` or ``media`` for audio), whether it is a single URL and whether it is required."""

    minimum: int
    maximum: int | None
    kind: str = "media"
    single: bool = False
    required: bool = False


class FieldSpec(NamedTuple):
    """The documented facts of any other field (JSON Schema names): ``type`` (``string``, ``integer``, ``number``,
    ``boolean``, ``array``, ``object``; ``integer|string`` for either), ``enum``, ``minimum``/``maximum`` (numbers),
    ``min_chars``/``max_chars`` (strings), ``min_items``/``max_items`` (lists), ``required``, ``default``."""

    type: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_chars: int | None = None
    max_chars: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    required: bool = False
    default: Any = None


class Choice(NamedTuple):
    """The values a string field takes and its default when omitted."""

    values: tuple[str, ...]
    default: str | None


class Price(NamedTuple):  # NamedTuples: a fifth of a dataclass's cost to define, paid by DAG parsing
    """A model's price, in credits per second of output by ``quality``.

    :ivar credits: the base rate per quality (a quality missing here has no published price).
    :ivar with_sound: the rate when sound is generated; ``None`` with ``sound_free`` false: no published price.
    :ivar with_video_input: the rate when a reference video is given; it then bills the input seconds too (at least
        the output's, at most ``video_input_max_seconds``).
    :ivar minimum_seconds: billed at least this many seconds.
    :ivar content_filter_off: factor applied when ``content_filter`` is false.
    """

    credits: dict[str, float]
    with_sound: dict[str, float] | None = None
    sound_free: bool = False
    with_video_input: dict[str, float] | None = None
    video_input_max_seconds: int | None = None
    minimum_seconds: int = 0
    content_filter_off: float = 1.0


class ModelSpec(NamedTuple):
    """One model of the catalogue (see the module docstring for the meaning of each part).

    :ivar media: documented media fields (:class:`MediaSpec`); a media list (``*_urls``) not named is refused.
    :ivar sound_field: the request field that turns sound on (dotted for nested ones), ``None`` if the model has none;
        ``sound_on`` its value that does (``True``, ``"on"``), ``sound_default`` whether sound is on when omitted.
    :ivar quality: ``values`` empty: the model has no ``quality`` field (``default``: what it renders).
    :ivar title: EvoLink's name of the model; ``status``: ``"preview"``, ``"beta"`` or ``None``.
    :ivar fields: every other documented field by name (``model_params.x`` for nested ones), :class:`FieldSpec`.
    :ivar outputs: the range of ``n``, videos per task, when the model makes several (``None``: one).
    """

    model: str
    family: str
    tier: str | None
    mode: str
    page: str
    contract: str
    prompt_required: bool
    prompt_max_chars: int | None
    duration: Span | None
    quality: Choice
    aspect_ratio: Choice | None
    sound_field: str | None
    sound_on: Any
    sound_default: bool
    media: dict[str, MediaSpec]
    web_search: bool
    price: Price | None
    render_seconds: int
    title: str = ""
    status: str | None = None
    fields: dict[str, FieldSpec] = {}
    outputs: Span | None = None


class PricedRequest(NamedTuple):
    """What a price depends on, from a validated request: ``quality``, output ``seconds`` (an upper bound when
    the output follows an input; ``None`` when no bound is known), sound on, a reference video given,
    ``content_filter`` false."""

    quality: str
    seconds: int | None
    sound: bool = False
    video_input: bool = False
    filter_off: bool = False


@functools.cache
def _document() -> dict[str, Any]:
    from importlib.resources import files  # here: a hundredth of a second that DAG parsing does not need to pay

    text = (files("airflow_provider_evolink") / "api_reference" / "catalogue.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def model_specs() -> dict[str, ModelSpec]:
    """Every catalogue entry by model id (the file is read once, when first needed, never at import)."""
    return {model: _spec(model, entry) for model, entry in _document()["models"].items()}


def placeholder_ids() -> dict[str, tuple[str, ...]]:
    """Ids EvoLink lists that are not models (a placeholder page), with the real ids to use instead."""
    return {model: tuple(item["use"]) for model, item in _document().get("placeholders", {}).items()}


def model_spec(model: object) -> ModelSpec | None:
    """The catalogue entry of ``model``, ``None`` for a model the catalogue does not type."""
    return model_specs().get(model) if isinstance(model, str) else None


def credits_for(spec: ModelSpec, priced: PricedRequest) -> float | None:
    """Credits a request is expected to reserve, rounded up to 4 decimals; ``None`` when no price is published for
    what it asks (no price at all, that quality, sound or reference video) or its length has no bound.

    Without a reference video: rate × max(seconds, minimum). With one (Seedance): (billable input + output seconds)
    × the reference-video rate, the input counted at its bound ``max(video_input_max_seconds, seconds)``.
    """
    price = spec.price
    if price is None or priced.seconds is None:
        return None
    seconds = max(priced.seconds, price.minimum_seconds)
    table: dict[str, float] | None = price.credits
    if priced.video_input and price.with_video_input is not None:
        table = price.with_video_input
        seconds += max(price.video_input_max_seconds or 0, seconds)
    elif priced.sound and not price.sound_free:
        table = price.with_sound
    rate = (table or {}).get(priced.quality)
    if rate is None:
        return None
    factor = price.content_filter_off if priced.filter_off else 1.0
    # round() first: 10.8054 * 5 * 10_000 is 540270.0000000001 in binary floating point, not a reason to add 0.0001.
    return math.ceil(round(rate * seconds * factor * 10_000, 6)) / 10_000


def _spec(model: str, entry: dict[str, Any]) -> ModelSpec:
    price = entry["price"]
    return ModelSpec(
        model=model,
        family=entry["family"],
        tier=entry["tier"],
        mode=entry["mode"],
        page=entry["page"],
        contract=entry["contract"],
        prompt_required=bool((entry["prompt"] or {}).get("required")),
        prompt_max_chars=(entry["prompt"] or {}).get("max_chars"),
        duration=_span(entry["duration"]),
        quality=Choice(tuple(entry["quality"]["values"]), entry["quality"].get("default")),
        aspect_ratio=_choice(entry["aspect_ratio"]),
        sound_field=(entry["sound"] or {}).get("field"),
        sound_on=(entry["sound"] or {}).get("on"),
        sound_default=bool((entry["sound"] or {}).get("default")),
        media={name: _media(item) for name, item in entry["media"].items()},
        web_search=entry["web_search"],
        price=None if price is None else _price(price),
        render_seconds=entry["render_seconds"],
        title=entry.get("title", model),
        status=entry.get("status"),
        fields={name: _field(item) for name, item in entry.get("fields", {}).items()},
        outputs=_span(entry.get("outputs")),
    )


def _span(item: dict[str, Any] | None) -> Span | None:
    if item is None:
        return None
    values = item.get("values")
    return Span(
        item["min"], item["max"], item.get("default"), tuple(values) if values else None, tuple(item.get("also", ()))
    )


def _media(item: dict[str, Any]) -> MediaSpec:
    return MediaSpec(
        item["min"], item["max"], item.get("kind", "media"), bool(item.get("single")), bool(item.get("required"))
    )


def _field(item: dict[str, Any]) -> FieldSpec:
    facts = {_FIELD_NAMES.get(name, name): value for name, value in item.items()}
    if facts.get("enum") is not None:
        facts["enum"] = tuple(facts["enum"])
    return FieldSpec(**facts)


#: The catalogue's short names of a field's facts (``min``/``max``) to :class:`FieldSpec`'s.
_FIELD_NAMES = {"min": "minimum", "max": "maximum"}


def _choice(item: dict[str, Any] | None) -> Choice | None:
    return None if item is None else Choice(tuple(item["values"]), item.get("default"))


def _price(item: dict[str, Any]) -> Price:
    return Price(
        credits=item["credits"],
        with_sound=item.get("with_sound"),
        sound_free=item.get("sound") == "free",
        with_video_input=item.get("with_video_input"),
        video_input_max_seconds=item.get("video_input_max_seconds"),
        minimum_seconds=item.get("minimum_seconds", 0),
        content_filter_off=item.get("content_filter_off", 1.0),
    )
