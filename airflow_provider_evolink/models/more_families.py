"""Create requests of HappyHorse (``happyhorse-1.0-*``, ``happyhorse-1.1-*``), Gemini Omni
(``gemini-omni-flash-*``, ``gemini-omni-1.1-flash-*``) and Grok Imagine (``grok-imagine-*``).

Source: ``api_reference/openapi/happyhorse.generated.openapi.yaml``, ``gemini-omni.generated.openapi.yaml`` and
``grok-imagine.generated.openapi.yaml`` (from EvoLink's pages under
``https://evolink.ai/docs/en/api-manual/video-series/``).
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest
from airflow_provider_evolink.models.field_errors import fail_at

__all__ = ["GeminiOmniRequest", "GrokImagineRequest", "HappyHorseRequest"]

#: Grok Imagine 1.5: reference-to-video (2 images or more) renders at most 720p.
GROK_REFERENCE_IMAGES, GROK_REFERENCE_QUALITIES = 2, ("480p", "720p")


class HappyHorseRequest(FamilyRequest):
    """HappyHorse 1.0 and 1.1: prompt ≤ 5000 characters (2500 Chinese); 3-15 s (default 5); 720p (default) or
    1080p; image-to-video: one first-frame image; reference-to-video: 1-9 images named character1… in the
    prompt; 1.0 video edit: one 3-60 s video (first 15 s used) and up to 5 images, ``keep_original_sound``;
    ``seed`` 1-2147483647."""

    family: ClassVar[str] = "HappyHorse"
    seed: int | None = None
    keep_original_sound: bool | None = None


class GeminiOmniRequest(FamilyRequest):
    """Gemini Omni Flash 1.0 and 1.1: 3-10 s (1.0: default 10 or ``"auto"``; 1.1: default 3); 1.1: 360p/720p
    (default)/1080p/4k, billed in tokens relative to 720p (⅓, 1.5×, 3×); image-to-video 1-2 images (first, last
    frame); reference-to-video up to 10 images (1.0: 6) and 3 videos; video edit and extend one mp4 (≤ 10 s / ≤ 30
    s) with up to 10 images; ``aspect_ratio`` 16:9, 9:16 or auto."""

    family: ClassVar[str] = "Gemini Omni"


class GrokImagineRequest(FamilyRequest):
    """Grok Imagine: beta ids 6-30 s with ``mode`` fun/normal (default)/spicy; 1.0 ids 1-15 s; 1.5 preview 1-15 s
    with 0 images (text-to-video), 1 (first frame) or 2-7 (references, at most 720p), prompt ≤ 4096 characters;
    480p (default) or 720p (1.5: also 1080p); image-to-video takes 1-7 images."""

    family: ClassVar[str] = "Grok Imagine"

    def cross_field_rules(self) -> None:
        images = len(self.image_urls or ())
        if images >= GROK_REFERENCE_IMAGES and self.quality not in (None, *GROK_REFERENCE_QUALITIES):
            fail_at(
                type(self).__name__,
                ("quality",),
                "quality_with_references",
                f"quality must be {' or '.join(GROK_REFERENCE_QUALITIES)} with {GROK_REFERENCE_IMAGES} images or "
                f"more (got {self.quality!r})",
                self.quality,
            )
