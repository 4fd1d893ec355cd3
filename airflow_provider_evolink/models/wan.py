"""Create requests of Alibaba's Wan families on EvoLink: Wan 2.5 (``wan2.5-{text,image}-to-video``), Wan 2.6
(text/image-to-video, ``-flash``, reference video), Wan 2.7 (text/image-to-video, reference video, video edit) and
Wan 3.0 (``wan3.0-{,prime-}{text-to-video,image-to-video,reference-video}``).

Source: the ``wan-*.generated.openapi.yaml`` contracts in ``api_reference/openapi/`` (from EvoLink's pages,
``https://evolink.ai/docs/en/api-manual/video-series/wan2.7/<model id>`` and siblings).
"""

from typing import ClassVar

from airflow_provider_evolink.models.family import FamilyRequest, at_least_one, needs
from airflow_provider_evolink.models.field_errors import fail_at
from airflow_provider_evolink.models.field_rules import field_value

__all__ = ["Wan25Request", "Wan26Request", "Wan27Request", "Wan30Request"]

#: Wan 2.7 ``generation_mode``: the inputs each requires and refuses.
WAN27_MODES = {
    "first_frame": (("image_start",), ("image_end", "video_urls")),
    "first_last_frame": (("image_start", "image_end"), ("video_urls",)),
    "video_continuation": (("video_urls",), ("image_start", "audio_urls")),
}
#: Wan 2.7 reference video: images + videos at most this many; the longest output with a reference video.
WAN27_MAX_REFERENCES, WAN27_MAX_SECONDS_WITH_VIDEO = 5, 10
#: Wan 2.7 video edit: ``duration`` 0 keeps the input's length; otherwise at least this many seconds.
WAN27_EDIT_MIN_SECONDS = 2


class Wan25Request(FamilyRequest):
    """Wan 2.5: prompt ≤ 2000 tokens; ``duration`` 5 or 10; 480p, 720p (default) or 1080p; ``prompt_extend``
    (default true); image-to-video takes one image (360-2000 px)."""

    family: ClassVar[str] = "Wan 2.5"
    prompt_extend: bool | None = None


class Wan26Request(FamilyRequest):
    """Wan 2.6: prompt ≤ 1500 characters; text/image-to-video 2-15 s, reference video 2-10 s (1-3 videos of 2-30
    s give the characters' look and voice); 720p (default) or 1080p; ``audio_url`` (mp3, 3-30 s) drives the sound;
    ``-flash`` ids: ``generate_audio`` (default true, priced higher); ``model_params.shot_type`` single or multi."""

    family: ClassVar[str] = "Wan 2.6"
    prompt_extend: bool | None = None
    generate_audio: bool | None = None


class Wan27Request(FamilyRequest):
    """Wan 2.7: prompt ≤ 5000 characters, ``negative_prompt`` ≤ 500; 2-15 s (default 5); 720p (default) or 1080p.

    * image-to-video ``generation_mode``: ``first_frame`` (``image_start``), ``first_last_frame`` (``image_start``
      and ``image_end``) or ``video_continuation`` (one ``video_urls`` clip, no ``image_start``/``audio_urls``).
    * reference video: ``image_urls`` + ``video_urls`` at most 5, at least one; with a video at most 10 s.
    * video edit: one 2-10 s video; ``duration`` 0 (default) keeps its length, else 2-10 s.
    """

    family: ClassVar[str] = "Wan 2.7"
    generation_mode: str | None = None
    negative_prompt: str | None = None
    prompt_extend: bool | None = None

    def cross_field_rules(self) -> None:
        mode, title = self.spec.mode, type(self).__name__
        if self.generation_mode in WAN27_MODES:
            required, refused = WAN27_MODES[self.generation_mode]
            for name in required:
                needs(
                    self, "generation_mode", name, f"{name} is required with generation_mode {self.generation_mode!r}"
                )
            for name in refused:
                if field_value(self, name):
                    fail_at(
                        title,
                        (name,),
                        "not_with_generation_mode",
                        f"{name} is not accepted with generation_mode {self.generation_mode!r}",
                        None,
                    )
        if mode == "reference-to-video":
            self._references(title)
        edit_seconds = self.duration if mode == "video edit" and isinstance(self.duration, int) else 0
        if 0 < edit_seconds < WAN27_EDIT_MIN_SECONDS:
            fail_at(
                title,
                ("duration",),
                "out_of_range",
                f"duration must be 0 (keep the video's length) or 2-10 seconds (got {self.duration})",
                self.duration,
            )

    def _references(self, title: str) -> None:
        at_least_one(self, ("image_urls", "video_urls"))
        count = len(self.image_urls or ()) + len(self.video_urls or ())
        if count > WAN27_MAX_REFERENCES:
            fail_at(
                title,
                ("image_urls",),
                "too_many_references",
                f"image_urls + video_urls must be at most {WAN27_MAX_REFERENCES} (got {count})",
                count,
            )
        if self.video_urls and isinstance(self.duration, int) and self.duration > WAN27_MAX_SECONDS_WITH_VIDEO:
            fail_at(
                title,
                ("duration",),
                "duration_with_video",
                f"duration must be at most {WAN27_MAX_SECONDS_WITH_VIDEO} seconds with video_urls",
                self.duration,
            )


class Wan30Request(FamilyRequest):
    """Wan 3.0 (and Prime): prompt ≤ 20000 characters; ``duration`` 2-30 or -1 (the model picks; EvoLink holds 30
    s); 480p, 720p (default; 2× the 480p price, Prime 2.06×) or 1080p (4×, Prime 4.12×); ``generate_audio`` (free);
    image-to-video: ``image_start`` required, ``image_end`` needs it; reference video: up to 10 images, 5 videos
    (billed with the output) and 5 audio clips, ``model_params.file_url`` or ``link_url`` (not both)."""

    family: ClassVar[str] = "Wan 3.0"
    generate_audio: bool | None = None

    def cross_field_rules(self) -> None:
        needs(self, "image_end", "image_start", "image_end needs image_start (the first frame)")
        if field_value(self, "model_params.file_url") and field_value(self, "model_params.link_url"):
            fail_at(
                type(self).__name__,
                ("model_params", "link_url"),
                "file_or_link",
                "model_params.file_url and model_params.link_url are mutually exclusive",
                None,
            )
