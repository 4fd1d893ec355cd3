"""
The base of every create request (``POST /v1/videos/generations``), the generic request of model ids the provider
does not type, and :func:`parse_request`, which routes a dict to its model's class.

The classes of typed models live in their family's module (:data:`FAMILY_MODULES`, and
:mod:`.kling_reference` for the two Kling models with their own classes): :func:`request_class` imports it when a
request of that family is first parsed, so importing this module (every operator does) defines no model class and
reads no catalogue. Request models keep unknown fields and send them (the API evolves). Build a request once,
validate it here, and serialise it with :meth:`EvoLinkRequest.to_api_json`: nothing else assembles EvoLink JSON.
Source: ``airflow_provider_evolink/api_reference/evolink-api.md`` and ``api_reference/catalogue.json``.
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_evolink.models.callback import CallbackUrl
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.media import MediaKind, extra_reference

if TYPE_CHECKING:
    from airflow_provider_evolink.models.catalogue import PricedRequest

__all__ = [
    "KLING_O3_REFERENCE_TO_VIDEO",
    "KLING_V3_MOTION_CONTROL",
    "EvoLinkRequest",
    "KlingO3ReferenceToVideoRequest",  # noqa: F822 (defined in .kling_reference, resolved by __getattr__ below)
    "KlingV3MotionControlRequest",  # noqa: F822
    "VideoGenerationRequest",
    "parse_request",
    "register_typed_class",
    "request_class",
]

KLING_O3_REFERENCE_TO_VIDEO = "kling-o3-reference-to-video"
KLING_V3_MOTION_CONTROL = "kling-v3-motion-control"


class _Model(BaseModel):
    """Request-side base: unknown fields are kept and sent, values are validated on assignment too."""

    # defer_build: DAG files import this module; schemas are built on first use, not at import time.
    model_config = ConfigDict(extra="allow", validate_assignment=True, populate_by_name=True, defer_build=True)


class EvoLinkRequest(_Model):
    """Common base of every create request (``POST /v1/videos/generations``).

    :ivar model: the EvoLink model id.
    :ivar callback_url: optional HTTPS URL EvoLink calls on completion (≤ 2048 chars, public host).
    """

    model: str = Field(min_length=1)
    callback_url: CallbackUrl | None = None

    #: Where the documented media inputs of this model sit in its JSON (``"*"``: every list item), with their kind.
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = ()

    def to_api_json(self) -> dict[str, Any]:
        """The JSON body to send: every field the user gave (extras included), ``None`` values dropped."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    def priced(self) -> "PricedRequest | None":
        """What this request's price depends on (quality, seconds, sound…), ``None`` when the provider does not
        know how the model is priced (:func:`~airflow_provider_evolink.models.estimate_credits`)."""
        return None

    @model_validator(mode="after")
    def _extra_media_inputs(self) -> Self:
        # Unmodelled fields follow the generic rule: ``*_url`` / ``*_urls`` are media inputs like documented ones.
        extra = self.__pydantic_extra__ or {}
        for name, value in extra.items():
            if value is None or not name.endswith(("_url", "_urls")):
                continue
            if name.endswith("_url"):
                extra[name] = extra_reference(type(self).__name__, (name,), value)
            elif not isinstance(value, list):
                fail_at(type(self).__name__, (name,), "media_urls", f"{name} must be a list of media URLs", value)
            else:
                extra[name] = [
                    extra_reference(type(self).__name__, (name, index), item) for index, item in enumerate(value)
                ]
        return self


# ------------------------------------------------------------------------------------- other models
class VideoGenerationRequest(EvoLinkRequest):
    """Create request for any other EvoLink video model id: ``model``, ``prompt`` and free extra fields.

    The provider does not know these models' rules, so only what every create request shares is checked: ``model``,
    ``prompt`` a string, the media URL forms of ``*_url`` / ``*_urls`` fields and ``callback_url``; the API validates
    the rest. Typed models (their own class, or a catalogue entry) are refused here so their rules cannot be
    bypassed, and so is a placeholder id EvoLink lists that is not a model (``seedance-2.0``): the error names the
    ids to use.
    """

    prompt: str | None = None

    @field_validator("model")
    @classmethod
    def _not_a_modelled_model(cls, value: str) -> str:
        from airflow_provider_evolink.models.catalogue import placeholder_ids  # the catalogue: read on first use

        real = placeholder_ids().get(value)
        if real is not None:
            raise ValueError(f"{value!r} is a placeholder EvoLink lists, not a model: use one of {', '.join(real)}")
        typed = request_class(value)
        if typed is not VideoGenerationRequest:
            raise ValueError(f"use {typed.__name__} for model {value!r}")
        return value


#: The two models with classes of their own (:mod:`.kling_reference`), by id: the class name.
_OWN_CLASSES = {
    KLING_O3_REFERENCE_TO_VIDEO: "KlingO3ReferenceToVideoRequest",
    KLING_V3_MOTION_CONTROL: "KlingV3MotionControlRequest",
}
#: Request classes of catalogue models by ``(family, mode)`` (:mod:`.catalogue`; mode ``"*"``: every mode of the
#: family), filled by :func:`register_typed_class` as the family modules define them.
_TYPED_CLASSES: dict[tuple[str, str], type[EvoLinkRequest]] = {}
#: The module (in ``airflow_provider_evolink.models``) holding each catalogue family's request classes: imported
#: by :func:`request_class` when a request of that family first needs it, never at import (DAG parsing).
FAMILY_MODULES = {
    "Seedance 2.0": "seedance",
    "Seedance 2.5": "seedance_more",
    "Seedance 1.x": "seedance_more",
    "Kling O3": "kling",
    "Kling V3": "kling",
    "Kling V3 Turbo": "kling_more",
    "Kling O1": "kling_more",
    "Kling 2.6": "kling_more",
    "Kling element": "kling_more",
    "Veo 3.1": "veo_sora",
    "Sora 2": "veo_sora",
    "Hailuo": "minimax",
    "MiniMax H3": "minimax",
    "Wan 2.5": "wan",
    "Wan 2.6": "wan",
    "Wan 2.7": "wan",
    "Wan 3.0": "wan",
    "HappyHorse": "more_families",
    "Gemini Omni": "more_families",
    "Grok Imagine": "more_families",
    "OmniHuman": "input_driven",
    "VideoRetalk": "input_driven",
    "Topaz": "input_driven",
}


def register_typed_class(family: str, mode: str, cls: type[EvoLinkRequest]) -> None:
    """Route the catalogue's models of ``family`` and ``mode`` (e.g. ``"Seedance 2.0"``, ``"text-to-video"``; ``"*"``
    for every mode) to ``cls``. Called once per class, when its module is imported (by :func:`request_class`)."""
    _TYPED_CLASSES[(family, mode)] = cls


def request_class(model: object) -> type[EvoLinkRequest]:
    """The request class for a model id: its own class if typed, else :class:`VideoGenerationRequest`. The family's
    module is imported here, the first time one of its models is asked for."""
    if not isinstance(model, str):
        return VideoGenerationRequest
    if model in _OWN_CLASSES:
        own: type[EvoLinkRequest] = getattr(import_module(f"{__package__}.kling_reference"), _OWN_CLASSES[model])
        return own
    from airflow_provider_evolink.models.catalogue import model_spec  # the catalogue: read on first use

    spec = model_spec(model)
    if spec is None:
        return VideoGenerationRequest
    keys = ((spec.family, spec.mode), (spec.family, "*"))
    if not any(key in _TYPED_CLASSES for key in keys) and spec.family in FAMILY_MODULES:
        import_module(f"{__package__}.{FAMILY_MODULES[spec.family]}")
    return next((_TYPED_CLASSES[key] for key in keys if key in _TYPED_CLASSES), VideoGenerationRequest)


def parse_request(request: EvoLinkRequest | Mapping[str, Any]) -> EvoLinkRequest:
    """Validate a create request: a model instance is re-validated, a mapping is routed by its ``model`` key.

    :raises pydantic.ValidationError: naming each offending field and rule (also for a missing ``model``).
    :raises TypeError: ``request`` is neither a mapping nor a request model.
    """
    if isinstance(request, EvoLinkRequest):
        # Re-validate: a model may have been built with model_construct() or mutated into an invalid state.
        return type(request).model_validate(request.model_dump(exclude_unset=True))
    if not isinstance(request, Mapping):
        raise TypeError(f"request must be a dict or an EvoLink request model, not {type(request).__name__}")
    return request_class(request.get("model")).model_validate(dict(request))


def __getattr__(name: str) -> Any:
    """The Kling reference-to-video and motion-control classes and their parts, once defined here, imported from
    :mod:`.kling_reference` when first asked for (``requests.KlingO3ReferenceToVideoRequest`` still works).

    :raises AttributeError: ``name`` is not one of them.
    """
    if name[:1].isupper():  # class and constant names only: a probe for ``__wrapped__`` or the like imports nothing
        module = import_module(f"{__package__}.kling_reference")
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
