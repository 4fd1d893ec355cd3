"""Create requests of the Seedance 2.5 family (text/image/reference-to-video, video edit and extend, draft to
video) and of Seedance 1.x (``seedance-1.5-pro``, ``doubao-seedance-1.0-pro-fast``).

Ranges, values and counts come from each id's catalogue entry; the rules over several fields are here. Source:
``api_reference/openapi/seedance-2.5.generated.openapi.yaml`` and ``seedance-1.x.generated.openapi.yaml`` (from
EvoLink's pages, ``https://evolink.ai/docs/en/api-manual/video-series/seedance2.5/<model id>``).
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest, at_least_one
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.field_rules import field_value

__all__ = ["Seedance1Request", "Seedance25Request"]


class Seedance25Request(FamilyRequest):
    """Every Seedance 2.5 id.

    * ``duration`` 4-30 s, or ``-1`` (the model picks; video edit takes only ``-1``: the output follows the video).
    * ``draft`` true renders a 480p draft: ``quality`` must then be 480p or omitted; ``seedance-2.5-draft-to-video``
      turns a completed draft (``source_task_id``) into the final 1080p video.
    * Reference-to-video needs at least one image, video or audio clip (1-30 images, 1-10 videos, 1-10 clips).
    * ``content_filter`` false bills ×1.1 and may not be combined with ``model_params.web_search`` (text-to-video).
    * ``generate_audio`` (default true, free), ``output_format`` ``mp4`` (default) or ``mov``.
    """

    family: ClassVar[str] = "Seedance 2.5"
    draft: bool | None = None
    generate_audio: bool | None = None
    content_filter: bool | None = None
    output_format: str | None = None
    source_task_id: str | None = None

    def cross_field_rules(self) -> None:
        title = type(self).__name__
        if self.draft and self.quality not in (None, "480p"):
            fail_at(
                title, ("quality",), "draft_quality", "quality must be 480p or omitted when draft is true", self.quality
            )
        if self.spec.mode == "reference-to-video":
            at_least_one(self, ("image_urls", "video_urls", "audio_urls"))
        if self.content_filter is False and field_value(self, "model_params.web_search"):
            fail_at(
                title,
                ("content_filter",),
                "content_filter_with_web_search",
                "content_filter must not be false together with model_params.web_search true",
                False,
            )


class Seedance1Request(FamilyRequest):
    """``seedance-1.5-pro`` (4-12 s, default 5; 480p/720p/1080p, default 720p; 0 images: text-to-video, 1: first
    frame, 2: first and last frame; ``generate_audio`` default true, priced higher) and
    ``doubao-seedance-1.0-pro-fast`` (2-12 s; default 1080p; at most 1 image)."""

    family: ClassVar[str] = "Seedance 1.x"
    generate_audio: bool | None = None
