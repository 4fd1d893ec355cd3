"""Create requests of MiniMax's Hailuo (``MiniMax-Hailuo-02``, ``MiniMax-Hailuo-2.3``, ``MiniMax-Hailuo-2.3-Fast``;
ids are case-sensitive) and H3 families (``minimax-h3-*``, ``minimax-h3-max-*``, ``minimax-h3-max-turbo-*``).

Source: ``api_reference/openapi/hailuo.generated.openapi.yaml`` and ``minimax-h3.generated.openapi.yaml`` (from
EvoLink's pages under ``https://evolink.ai/docs/en/api-manual/video-series/hailuo/`` and ``.../minimax/``).
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest, at_least_one, needs
from airflow_provider_evolink.models.field_errors import fail_at

__all__ = ["HailuoRequest", "MiniMaxH3Request"]

#: Hailuo: the longest output at 1080p, and the quality that needs exactly one image (Hailuo 02).
HAILUO_1080P_SECONDS, HAILUO_IMAGE_ONLY_QUALITY = 6, "512p"


class HailuoRequest(FamilyRequest):
    """Hailuo: prompt ≤ 2000 characters (camera commands in brackets); 0 images: text-to-video, 1: first frame,
    2 (Hailuo 02): first and last frame; ``duration`` 6 (default) or 10, but 10 s not at 1080p; ``quality`` 768p
    (default) or 1080p, and 512p on Hailuo 02 with one image; 2.3 Fast is image-to-video only;
    ``model_params.prompt_optimizer`` (default true), ``model_params.fast_pretreatment``."""

    family: ClassVar[str] = "Hailuo"

    def cross_field_rules(self) -> None:
        title, images = type(self).__name__, len(self.image_urls or ())
        seconds = self.duration if isinstance(self.duration, int) else 0
        if self.quality == "1080p" and seconds > HAILUO_1080P_SECONDS:
            fail_at(
                title,
                ("duration",),
                "duration_at_1080p",
                f"duration must be {HAILUO_1080P_SECONDS} at 1080p for {self.model} (got {self.duration})",
                self.duration,
            )
        if self.quality == HAILUO_IMAGE_ONLY_QUALITY and images != 1:
            fail_at(
                title,
                ("quality",),
                "quality_needs_one_image",
                f"quality {HAILUO_IMAGE_ONLY_QUALITY} needs exactly one image (image-to-video)",
                self.quality,
            )
        if not images and not self.prompt:
            fail_at(
                title, ("prompt",), "prompt_required", f"prompt is required for {self.model} without an image", None
            )


class MiniMaxH3Request(FamilyRequest):
    """MiniMax H3: prompt 1-7000 characters; H3: 4-15 s (default 4), 768p (default) or 2k; Max and Max Turbo: 5-15
    s (default 5), 480p or 768p (default). Image-to-video takes ``image_start`` and/or ``image_end`` (Max: the
    first frame is required); reference-to-video takes up to 9 images, 3 videos and 3 audio clips (2-15 s each,
    15 s in all), at least one of them, named "Image 1", "Video 1", "Audio 1" in the prompt."""

    family: ClassVar[str] = "MiniMax H3"

    def cross_field_rules(self) -> None:
        mode = self.spec.mode
        if mode == "image-to-video":
            at_least_one(self, ("image_start", "image_end"))
            if "max" in self.model:
                needs(self, "image_end", "image_start", f"image_end needs image_start for {self.model}")
        if mode == "reference-to-video":
            at_least_one(self, ("image_urls", "video_urls", "audio_urls"))
