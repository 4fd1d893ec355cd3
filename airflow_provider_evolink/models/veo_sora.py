"""Create requests of Veo 3.1 (``veo-3.1-generate-preview``, ``veo-3.1-fast-generate-preview``,
``veo3.1-fast-beta``, ``veo3.1-pro-beta``) and Sora 2 (``sora-2-preview``, ``sora-2-pro-preview``).

Source: ``api_reference/openapi/veo-3.1.generated.openapi.yaml`` and ``sora-2.generated.openapi.yaml`` (from
EvoLink's pages under ``https://evolink.ai/docs/en/api-manual/video-series/veo3.1/`` and ``.../sora2/``).
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest
from airflow_provider_evolink.models.field_errors import fail_at

__all__ = ["SoraRequest", "VeoRequest"]

#: Images each Veo ``generation_type`` takes.
VEO_IMAGES = {"TEXT": (0, 0), "FIRST&LAST": (1, 2), "REFERENCE": (1, 3)}
#: Veo ``REFERENCE``: its fixed length and ratio.
VEO_REFERENCE_SECONDS, VEO_REFERENCE_RATIO = 8, "16:9"


class VeoRequest(FamilyRequest):
    """Veo 3.1 (preview and beta ids): prompt ≤ 2000 tokens; ``image_urls`` up to 3 (2 on Pro);
    ``generation_type`` ``TEXT`` (no image), ``FIRST&LAST`` (1-2 images) or ``REFERENCE`` (1-3 images, 8 s, 16:9);
    preview ids: ``duration`` 4, 6 or 8 (default 4), ``n`` 1-4 videos per task, ``quality`` 720p/1080p/4k,
    ``generate_audio`` (default true, priced higher), ``seed``, ``negative_prompt``, ``person_generation``,
    ``resize_mode`` (image-to-video); beta ids: 720p only, ``enhance_prompt`` (default true)."""

    family: ClassVar[str] = "Veo 3.1"
    generation_type: str | None = None
    generate_audio: bool | None = None
    n: int | None = None

    def cross_field_rules(self) -> None:
        title, images = type(self).__name__, len(self.image_urls or ())
        low, high = VEO_IMAGES.get(self.generation_type or "", (0, 3))
        if self.generation_type and not low <= images <= high:
            fail_at(
                title,
                ("image_urls",),
                "images_for_generation_type",
                f"image_urls must hold {low}-{high} images with generation_type {self.generation_type!r} "
                f"(got {images})",
                images,
            )
        if self.generation_type == "REFERENCE":
            if self.duration not in (None, VEO_REFERENCE_SECONDS):
                fail_at(
                    title,
                    ("duration",),
                    "reference_duration",
                    f"duration must be {VEO_REFERENCE_SECONDS} with generation_type 'REFERENCE'",
                    self.duration,
                )
            if self.aspect_ratio not in (None, VEO_REFERENCE_RATIO):
                fail_at(
                    title,
                    ("aspect_ratio",),
                    "reference_ratio",
                    f"aspect_ratio must be {VEO_REFERENCE_RATIO} with generation_type 'REFERENCE'",
                    self.aspect_ratio,
                )


class SoraRequest(FamilyRequest):
    """Sora 2 (preview ids): prompt ≤ 5000 tokens; ``duration`` 4, 8 or 12 (default 4); ``aspect_ratio``
    ``1280x720``/``720x1280``/``16:9``/``9:16`` (Pro: 16:9 or 9:16); at most one image (no real people; on
    ``sora-2-preview`` its pixel size must equal the chosen size); Pro: ``quality`` 720p or 1080p (×1.667)."""

    family: ClassVar[str] = "Sora 2"
