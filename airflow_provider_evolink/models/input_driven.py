"""Create requests of the models billed on their inputs, not on a ``duration``: OmniHuman 1.5 (an avatar video
driven by an audio clip, billed per audio second), VideoRetalk (lip-sync of a video to an audio clip) and Topaz
video upscale (billed on the input video's detected length). Their output length follows the input, so the
catalogue gives them no ``duration`` and :func:`~airflow_provider_evolink.models.estimate_credits` no estimate.

Source: ``omnihuman.generated.openapi.yaml``, ``videoretalk.generated.openapi.yaml`` and
``topaz.generated.openapi.yaml`` in ``api_reference/openapi/`` (from EvoLink's pages under
``https://evolink.ai/docs/en/api-manual/video-series/``).
"""

from typing import Any, ClassVar

from pydantic import field_validator

from airflow_provider_evolink.models.family import FamilyRequest

__all__ = ["OmniHumanRequest", "TopazUpscaleRequest", "VideoRetalkRequest"]


class OmniHumanRequest(FamilyRequest):
    """``omnihuman-1.5``: ``audio_url`` (mp3/wav, at most 35 s, billed per second) drives one person of
    ``image_urls`` (one image, ≤ 10 MB); optional ``prompt``, ``mask_url``, ``seed``, ``pe_fast_mode``,
    ``subject_check``, ``auto_mask``."""

    family: ClassVar[str] = "OmniHuman"


class VideoRetalkRequest(FamilyRequest):
    """``videoretalk``: the face in ``video_url`` lip-syncs to ``audio_url``; ``ref_image_url`` picks the face when
    there are several; ``video_extension`` (default false) extends the video to the audio's length;
    ``query_face_threshold`` 120-200 (default 170)."""

    family: ClassVar[str] = "VideoRetalk"


class TopazUpscaleRequest(FamilyRequest):
    """``topaz-video-upscale``: one mp4 in ``video_urls`` (≤ 50 MB, billed on its length);
    ``model_params.upscale_factor`` ``"1"`` (enhance only), ``"2"`` (default) or ``"4"``; a number is sent as its
    string, as EvoLink accepts both."""

    family: ClassVar[str] = "Topaz"

    @field_validator("model_params", mode="before")
    @classmethod
    def _factor_as_string(cls, value: Any) -> Any:
        factor = value.get("upscale_factor") if isinstance(value, dict) else None
        if isinstance(factor, int) and not isinstance(factor, bool):
            return {**value, "upscale_factor": str(factor)}
        return value
