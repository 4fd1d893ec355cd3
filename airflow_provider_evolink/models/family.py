"""The base of the request classes of the families typed from EvoLink's generated parameter index (Seedance 2.5
and 1.x, Kling V3 Turbo/O1/2.6/element, Veo 3.1, Sora 2, Hailuo, MiniMax H3, Wan 2.5-3.0, HappyHorse, Gemini Omni,
Grok Imagine, OmniHuman, VideoRetalk, Topaz): one class per family takes every mode of the family
(:data:`~.typed.ANY_MODE`), declares the media fields its models may take (so local files and object-storage URIs
are uploaded like elsewhere), and leaves every range, value list and count to the model's catalogue entry.

Source: ``airflow_provider_evolink/api_reference/catalogue.json`` (built by ``scripts/build_catalogue.py`` from
EvoLink's docs pages; each entry's ``page``) and the family's contract document in ``api_reference/openapi/``.
"""

from typing import Any, ClassVar, Self

from pydantic import model_validator

from airflow_provider_evolink.models.catalogue import PricedRequest
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.field_rules import field_value
from airflow_provider_evolink.models.media import MediaKind, MediaUrl
from airflow_provider_evolink.models.typed import ANY_MODE, CatalogueRequest

__all__ = ["FamilyRequest", "at_least_one", "needs"]


class FamilyRequest(CatalogueRequest):
    """Fields shared by the families typed from the index; each model's catalogue entry says which it takes.

    :ivar prompt: the text prompt (required and limited per model).
    :ivar duration: output seconds (a range, a list of values, or ``-1``/``"auto"`` where the model picks).
    :ivar quality: resolution tier (``480p`` … ``4k``, ``768p``, ``2k`` per model).
    :ivar image_urls: images (first frame, first and last frame, or references, per model); ``video_urls``,
        ``audio_urls``: reference or source videos and audio clips; ``image_start``/``image_end``: first and last
        frame; ``video_url``/``audio_url``: one source video or audio; ``ref_image_url``: a face to match.
    :ivar model_params: model-specific settings, checked field by field against the catalogue.
    """

    mode: ClassVar[str] = ANY_MODE
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = (
        (("image_urls", "*"), "image"),
        (("video_urls", "*"), "video"),
        (("audio_urls", "*"), "media"),
        (("image_start",), "image"),
        (("image_end",), "image"),
        (("video_url",), "video"),
        (("audio_url",), "media"),
        (("ref_image_url",), "image"),
    )
    prompt: str | None = None
    duration: int | str | None = None
    quality: str | None = None
    aspect_ratio: str | None = None
    image_urls: list[MediaUrl] | None = None
    video_urls: list[MediaUrl] | None = None
    audio_urls: list[MediaUrl] | None = None
    image_start: MediaUrl | None = None
    image_end: MediaUrl | None = None
    video_url: MediaUrl | None = None
    audio_url: MediaUrl | None = None
    ref_image_url: MediaUrl | None = None
    model_params: dict[str, Any] | None = None

    def priced(self) -> PricedRequest:
        """As :meth:`CatalogueRequest.priced`, with a duration the model picks (``-1``, ``"auto"``) counted at the
        longest it may be (EvoLink holds that much)."""
        priced = super().priced()
        span = self.spec.duration
        if span is not None and self.duration is not None and self.duration in span.also:
            return priced._replace(seconds=span.maximum)
        return priced if isinstance(priced.seconds, int) else priced._replace(seconds=None)

    @model_validator(mode="after")
    def _family_rules(self) -> Self:
        self.cross_field_rules()
        return self

    def cross_field_rules(self) -> None:
        """The family's rules over several fields (none by default); raise with :func:`fail_at`."""


def needs(request: FamilyRequest, name: str, other: str, rule: str) -> None:
    """Refuse ``name`` given without ``other`` (``rule`` words why)."""
    if field_value(request, name) is not None and not field_value(request, other):
        fail_at(type(request).__name__, tuple(name.split(".")), f"{name.split('.')[-1]}_needs_{other}", rule, None)


def at_least_one(request: FamilyRequest, names: tuple[str, ...]) -> None:
    """Refuse a request of ``request.model`` that gives none of ``names``."""
    if not any(field_value(request, name) for name in names):
        fail_at(
            type(request).__name__,
            (names[0],),
            "input_needed",
            f"{' or '.join(names)} must give at least one input for {request.model}",
            None,
        )
