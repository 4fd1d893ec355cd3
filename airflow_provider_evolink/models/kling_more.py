"""Create requests of the Kling families typed from EvoLink's index beyond O3 and V3: V3 Turbo
(``kling-v3-turbo-{text,image}-to-video``), O1 (``kling-o1-image-to-video``, ``kling-o1-video-edit``,
``kling-o1-video-edit-fast``), 2.6 (``kling-v2.6-motion-control``) and ``kling-custom-element`` (which creates an
element to use in later requests).

Source: the ``kling-*.generated.openapi.yaml`` contracts in ``api_reference/openapi/`` (from EvoLink's pages,
``https://evolink.ai/docs/en/api-manual/video-series/kling/<model id>``) and each id's catalogue entry.
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.field_rules import field_value

__all__ = ["KlingElementRequest", "KlingMotionControl26Request", "KlingO1Request", "KlingV3TurboRequest"]


class KlingV3TurboRequest(FamilyRequest):
    """Kling V3 Turbo: text-to-video (prompt ≤ 2500 characters, 16:9/9:16/1:1) or image-to-video (``image_start``
    required, jpg/png ≤ 50 MB); 3-15 s (default 5); 720p (default) or 1080p, no 4k."""

    family: ClassVar[str] = "Kling V3 Turbo"


class KlingO1Request(FamilyRequest):
    """Kling O1: image-to-video (prompt ≤ 5000 characters; 1 image: first frame, 2: first and last frame; 5 or 10
    s) and video edit (one ``video_urls`` video, billed as 3-10 s, or 6-20 s for ``-fast``; up to 4 reference
    images; ``keep_original_sound``)."""

    family: ClassVar[str] = "Kling O1"
    keep_original_sound: bool | None = None


class KlingMotionControl26Request(FamilyRequest):
    """``kling-v2.6-motion-control``: one reference image (the look) and one 3-30 s reference video (the motion);
    ``model_params.character_orientation`` (``image``: up to 10 s, ``video``: up to 30 s) is required,
    ``model_params.keep_sound`` (default true); 1080p costs 1.6× the 720p rate."""

    family: ClassVar[str] = "Kling 2.6"


class KlingElementRequest(FamilyRequest):
    """``kling-custom-element``: creates a subject element (its id goes into ``model_params.element_list`` of later
    requests). ``model_params``: ``element_name`` (≤ 20 characters), ``element_description`` (≤ 100),
    ``reference_type`` ``image_refer`` (then ``element_image_list`` with a frontal image and 1-3 others) or
    ``video_refer`` (then ``element_video_list`` with one video ≤ 8 s; ``element_voice_id`` only here)."""

    family: ClassVar[str] = "Kling element"

    def cross_field_rules(self) -> None:
        kind = field_value(self, "model_params.reference_type")
        wanted = {"image_refer": "element_image_list", "video_refer": "element_video_list"}.get(kind or "")
        if wanted and not field_value(self, f"model_params.{wanted}"):
            fail_at(
                type(self).__name__,
                ("model_params", wanted),
                "element_reference_missing",
                f"model_params.{wanted} is required when model_params.reference_type is {kind!r}",
                None,
            )
        if field_value(self, "model_params.element_voice_id") and kind != "video_refer":
            fail_at(
                type(self).__name__,
                ("model_params", "element_voice_id"),
                "voice_needs_video_refer",
                "model_params.element_voice_id is only allowed with reference_type 'video_refer'",
                None,
            )
