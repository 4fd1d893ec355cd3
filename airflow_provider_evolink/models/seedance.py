"""Create requests of the Seedance 2.0 family: nine model ids, ``seedance-2.0-{,fast-,mini-}{text,image,reference}
-to-video`` (Standard, Fast and Mini tiers; the bare ``seedance-2.0`` is a placeholder and is not typed).

Ranges, choices, media counts and prices come from each id's catalogue entry (:mod:`.catalogue`); the rules that
span fields are here. Source: ``api_reference/openapi/seedance-2.0.openapi.yaml`` (written from EvoLink's
"Seedance 2.0" docs pages) and ``api_reference/evolink-api.md``.
"""

from typing import ClassVar, Self

from pydantic import model_validator

from airflow_provider_evolink.models.field_errors import fail_at as fail
from airflow_provider_evolink.models.media import MediaKind, MediaUrl
from airflow_provider_evolink.models.requests import _Model as RequestModel
from airflow_provider_evolink.models.typed import CatalogueRequest

__all__ = [
    "SeedanceImageToVideoRequest",
    "SeedanceModelParams",
    "SeedanceReferenceToVideoRequest",
    "SeedanceTextToVideoRequest",
]

_FAMILY = "Seedance 2.0"


class SeedanceModelParams(RequestModel):
    """``model_params`` of Standard and Fast text-to-video: ``web_search`` lets the model search the web
    (0.04 credits per search it runs)."""

    web_search: bool | None = None


class _SeedanceRequest(CatalogueRequest):
    """Fields every Seedance 2.0 id takes (defaults are the API's when omitted).

    :ivar prompt: required; no character limit in the schema (about 10,000 tokens at most).
    :ivar duration: output seconds, 4-15 (default 5); billed by it.
    :ivar quality: ``480p``/``720p`` (Fast, Mini), also ``1080p``/``4k`` (Standard); default ``720p``.
    :ivar aspect_ratio: ``16:9``, ``9:16``, ``1:1``, ``4:3``, ``3:4``, ``21:9`` or ``adaptive`` (default).
    :ivar generate_audio: a sound track inside the MP4 (default true, free).
    :ivar content_filter: ``False`` relaxes moderation and bills ×1.1 (default true).
    """

    family: ClassVar[str] = _FAMILY
    prompt: str
    duration: int | None = None
    quality: str | None = None
    aspect_ratio: str | None = None
    generate_audio: bool | None = None
    content_filter: bool | None = None


class SeedanceTextToVideoRequest(_SeedanceRequest):
    """``seedance-2.0-text-to-video``, ``-fast-`` and ``-mini-``: no media; ``model_params.web_search`` on Standard
    and Fast, never together with ``content_filter`` false."""

    mode: ClassVar[str] = "text-to-video"
    model: str = "seedance-2.0-text-to-video"
    model_params: SeedanceModelParams | None = None

    @model_validator(mode="after")
    def _filter_or_search(self) -> Self:
        if self.content_filter is False and self.model_params is not None and self.model_params.web_search:
            fail(
                type(self).__name__,
                ("content_filter",),
                "content_filter_with_web_search",
                "content_filter must not be false together with model_params.web_search true (EvoLink refuses both)",
                self.content_filter,
            )
        return self


class SeedanceImageToVideoRequest(_SeedanceRequest):
    """``seedance-2.0-image-to-video``, ``-fast-`` and ``-mini-``: ``image_urls`` holds 1 image (the first frame) or
    2 (first and last frame); jpeg/png/webp, at most 30 MB each."""

    mode: ClassVar[str] = "image-to-video"
    model: str = "seedance-2.0-image-to-video"
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = ((("image_urls", "*"), "image"),)
    image_urls: list[MediaUrl]


class SeedanceReferenceToVideoRequest(_SeedanceRequest):
    """``seedance-2.0-reference-to-video``, ``-fast-`` and ``-mini-``: up to 9 ``image_urls``, 3 ``video_urls``
    (mp4/mov, 2-15 s each, 15 s in all) and 3 ``audio_urls`` (wav/mp3), with at least one image or video; name them
    ``@image1``, ``@video1``, ``@audio1`` in the prompt. A reference video bills its seconds too, at a lower rate."""

    mode: ClassVar[str] = "reference-to-video"
    model: str = "seedance-2.0-reference-to-video"
    media_inputs: ClassVar[tuple[tuple[tuple[str, ...], MediaKind], ...]] = (
        (("image_urls", "*"), "image"),
        (("video_urls", "*"), "video"),
        (("audio_urls", "*"), "media"),
    )
    image_urls: list[MediaUrl] | None = None
    video_urls: list[MediaUrl] | None = None
    audio_urls: list[MediaUrl] | None = None

    @model_validator(mode="after")
    def _an_image_or_a_video(self) -> Self:
        if not self.image_urls and not self.video_urls:
            fail(
                type(self).__name__,
                ("image_urls",),
                "reference_needed",
                "image_urls or video_urls must hold at least one reference (audio_urls alone is not enough)",
                None,
            )
        return self
