"""The base of request models described by the catalogue (:mod:`.catalogue`): the documented ranges, choices,
prompt limit, media counts and every other field's facts (:mod:`.field_rules`) of each model id are checked from
its entry, so a model of a known family is one catalogue entry; what a schema cannot say (cross-field rules) stays
in the family's module.

Every error names the field and the rule, before any HTTP request.
"""

from typing import Any, ClassVar, Self

from pydantic import field_validator, model_validator

from airflow_provider_evolink.models.catalogue import ModelSpec, PricedRequest, Span, model_spec, model_specs
from airflow_provider_evolink.models.field_errors import fail_at as fail
from airflow_provider_evolink.models.field_rules import check_fields, field_value
from airflow_provider_evolink.models.requests import EvoLinkRequest, register_typed_class

__all__ = ["ANY_MODE", "CatalogueRequest"]

#: Media list fields a catalogue entry may allow; any of them it does not list is refused.
MEDIA_LISTS = ("image_urls", "video_urls", "audio_urls")
#: Single-URL media fields: refused when a class declares one its model does not document.
SINGLE_MEDIA = ("image_start", "image_end", "video_url", "video", "audio_url", "ref_image_url")
#: ``mode`` of a class that takes every mode of its family.
ANY_MODE = "*"


class CatalogueRequest(EvoLinkRequest):
    """A create request checked against its model's catalogue entry (one class per family and mode, or per family
    with ``mode`` :data:`ANY_MODE`).

    Checked: ``model`` belongs to the class's family and mode; ``prompt`` required / at most N characters;
    ``duration`` within its range or among its values; ``quality`` and ``aspect_ratio`` among their values; each
    media field within its item counts (and present when required), media lists the model does not take refused;
    every other documented field's type, values, range and length (``n`` included); ``model_params.web_search``
    only where offered.
    """

    family: ClassVar[str]
    mode: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A concrete class: its family and mode are known and one of them is set here (not a family's base).
        concrete = hasattr(cls, "family") and hasattr(cls, "mode")
        if concrete and ("mode" in cls.__dict__ or "family" in cls.__dict__):
            register_typed_class(cls.family, cls.mode, cls)

    @classmethod
    def models(cls) -> tuple[str, ...]:
        """The catalogue's model ids of this class's family and mode."""
        return tuple(
            spec.model
            for spec in model_specs().values()
            if spec.family == cls.family and cls.mode in (spec.mode, ANY_MODE)
        )

    @field_validator("model")
    @classmethod
    def _model_of_this_class(cls, value: str) -> str:
        if value not in cls.models():
            raise ValueError(f"model must be one of {', '.join(cls.models())} for {cls.__name__}, got {value!r}")
        return value

    @property
    def spec(self) -> ModelSpec:
        """The catalogue entry of this request's model."""
        spec = model_spec(self.model)
        assert spec is not None  # the model validator admits only catalogue ids
        return spec

    def priced(self) -> PricedRequest:
        """What the price of this request depends on (defaults of the catalogue for omitted fields)."""
        spec = self.spec
        duration = getattr(self, "duration", None)
        sound = _dotted(self, spec.sound_field) if spec.sound_field else None
        return PricedRequest(
            quality=getattr(self, "quality", None) or spec.quality.default or "",
            seconds=duration if duration is not None else spec.duration.default if spec.duration else None,
            sound=spec.sound_default if sound is None else sound == spec.sound_on,
            video_input=bool(getattr(self, "video_urls", None)),
            filter_off=getattr(self, "content_filter", None) is False,
        )

    @model_validator(mode="after")
    def _catalogue_rules(self) -> Self:
        spec = self.spec
        title = type(self).__name__
        prompt = getattr(self, "prompt", None)
        if spec.prompt_required and prompt is None:
            fail(title, ("prompt",), "prompt_required", f"prompt is required for {spec.model}", None)
        if spec.prompt_max_chars is not None and prompt is not None and len(prompt) > spec.prompt_max_chars:
            fail(
                title,
                ("prompt",),
                "prompt_too_long",
                f"prompt must be at most {spec.prompt_max_chars} characters for {spec.model} (got {len(prompt)})",
                len(prompt),
            )
        duration = field_value(self, "duration")
        if spec.duration is not None and duration is not None and duration not in spec.duration.also:
            _check_duration(title, duration, spec)
        for name, choice in (("quality", spec.quality), ("aspect_ratio", spec.aspect_ratio)):
            value = field_value(self, name)
            if choice is not None and choice.values and value is not None and value not in choice.values:
                fail(
                    title,
                    (name,),
                    f"{name}_not_offered",
                    f"{name} must be one of {', '.join(choice.values)} for {spec.model} (got {value!r})",
                    value,
                )
        declared = [name for name in SINGLE_MEDIA if name in type(self).model_fields]
        for name in dict.fromkeys((*MEDIA_LISTS, *declared, *spec.media)):
            self._check_media(title, spec, name)
        check_fields(title, spec, self)
        params = getattr(self, "model_params", None)
        # model_params is a model on the classes that declare it, a plain dict (an extra field) elsewhere.
        search = params.get("web_search") if isinstance(params, dict) else getattr(params, "web_search", None)
        if not spec.web_search and search is not None:
            fail(
                title,
                ("model_params", "web_search"),
                "web_search_not_offered",
                f"model_params.web_search is not offered by {spec.model} (only by text-to-video models that list it)",
                search,
            )
        return self

    def _check_media(self, title: str, spec: ModelSpec, name: str) -> None:
        items = field_value(self, name)
        media = spec.media.get(name)
        if items is None:
            if media is not None and media.required:
                fail(title, (name,), "media_required", f"{name} is required for {spec.model}", None)
            return
        if media is None:
            fail(title, (name,), "media_not_accepted", f"{name} is not accepted by {spec.model} ({spec.mode})", items)
        if not media.single:
            _check_span(title, (name,), len(items), Span(media.minimum, media.maximum), f"items for {spec.model}")


def _check_duration(title: str, duration: object, spec: ModelSpec) -> None:
    span = spec.duration
    assert span is not None
    if isinstance(duration, bool) or not isinstance(duration, int):
        allowed = f"whole seconds or one of {', '.join(map(str, span.also))}" if span.also else "whole seconds"
        fail(title, ("duration",), "duration_type", f"duration must be {allowed} for {spec.model}", duration)
    if span.values is not None and duration not in span.values:
        allowed = ", ".join(str(value) for value in (*span.values, *span.also))
        fail(
            title,
            ("duration",),
            "out_of_range",
            f"duration must be one of {allowed} seconds for {spec.model} (got {duration})",
            duration,
        )
    extra = f" (or {', '.join(map(str, span.also))})" if span.also else ""
    _check_span(title, ("duration",), duration, span, f"seconds{extra} for {spec.model}")


def _check_span(title: str, loc: tuple[str, ...], value: int, span: Span, unit: str) -> None:
    if value < span.minimum or (span.maximum is not None and value > span.maximum):
        bound = f"{span.minimum}-{span.maximum}" if span.maximum is not None else f"at least {span.minimum}"
        fail(title, loc, "out_of_range", f"{loc[0]} must be {bound} {unit} (got {value})", value)


def _dotted(request: Any, path: str) -> Any:
    node = request
    for part in path.split("."):
        node = getattr(node, part, None)
    return node
