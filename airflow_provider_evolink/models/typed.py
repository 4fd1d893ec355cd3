"""The base of request models described by the catalogue (:mod:`.catalogue`): the documented ranges, choices,
prompt limit and media counts of each model id are checked from its entry, so a model of a known family and mode
is one catalogue entry; what a schema cannot say (cross-field rules) stays in the family's module.

Every error names the field and the rule, before any HTTP request.
"""

from typing import Any, ClassVar, Self

from pydantic import field_validator, model_validator

from airflow_provider_evolink.models.catalogue import ModelSpec, PricedRequest, Span, model_spec, model_specs
from airflow_provider_evolink.models.field_errors import fail_at as fail
from airflow_provider_evolink.models.requests import EvoLinkRequest, register_typed_class

__all__ = ["CatalogueRequest"]

#: Media list fields a catalogue entry may allow; any of them it does not list is refused.
MEDIA_LISTS = ("image_urls", "video_urls", "audio_urls")


class CatalogueRequest(EvoLinkRequest):
    """A create request checked against its model's catalogue entry (one class per family and mode).

    Checked: ``model`` belongs to the class's family and mode; ``prompt`` required / at most N characters;
    ``duration`` within its range; ``quality`` and ``aspect_ratio`` among their values; each media list within its
    item counts, and media lists the mode does not take refused; ``model_params.web_search`` only where offered.
    """

    family: ClassVar[str]
    mode: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "mode" in cls.__dict__:  # a concrete class of one family and mode (not a family's base)
            register_typed_class(cls.family, cls.mode, cls)

    @classmethod
    def models(cls) -> tuple[str, ...]:
        """The catalogue's model ids of this class's family and mode."""
        return tuple(
            spec.model for spec in model_specs().values() if (spec.family, spec.mode) == (cls.family, cls.mode)
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
        duration = getattr(self, "duration", None)
        if spec.duration is not None and duration is not None:
            _check_span(title, ("duration",), duration, spec.duration, f"seconds for {spec.model}")
        for name, choice in (("quality", spec.quality), ("aspect_ratio", spec.aspect_ratio)):
            value = getattr(self, name, None)
            if choice is not None and value is not None and value not in choice.values:
                fail(
                    title,
                    (name,),
                    f"{name}_not_offered",
                    f"{name} must be one of {', '.join(choice.values)} for {spec.model} (got {value!r})",
                    value,
                )
        for name in MEDIA_LISTS:
            self._check_media(title, spec, name)
        params = getattr(self, "model_params", None)
        # model_params is a model on the classes that declare it, a plain dict (an extra field) elsewhere.
        search = params.get("web_search") if isinstance(params, dict) else getattr(params, "web_search", None)
        if not spec.web_search and search is not None:
            fail(
                title,
                ("model_params", "web_search"),
                "web_search_not_offered",
                f"model_params.web_search is offered by Standard and Fast text-to-video only, not {spec.model}",
                search,
            )
        return self

    def _check_media(self, title: str, spec: ModelSpec, name: str) -> None:
        items = getattr(self, name, None)
        if items is None:
            return
        span = spec.media.get(name)
        if span is None:
            fail(title, (name,), "media_not_accepted", f"{name} is not accepted by {spec.model} ({spec.mode})", items)
        _check_span(title, (name,), len(items), span, f"items for {spec.model}")


def _check_span(title: str, loc: tuple[str, ...], value: int, span: Span, unit: str) -> None:
    if value < span.minimum or (span.maximum is not None and value > span.maximum):
        bound = f"{span.minimum}-{span.maximum}" if span.maximum is not None else f"at least {span.minimum}"
        fail(title, loc, "out_of_range", f"{loc[0]} must be {bound} {unit} (got {value})", value)


def _dotted(request: Any, path: str) -> Any:
    node = request
    for part in path.split("."):
        node = getattr(node, part, None)
    return node
