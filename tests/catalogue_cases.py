"""Requests of every typed catalogue model, shared by the client's tests (``tests/models``) and the emulator's
(``tests/emulator``): each model's documented example request, and one violation per documented rule with the
field the refusal must name.

Media URLs point at ``base`` (the emulator's ``/samples``: a 5 s 1280×720 MP4 and a 480×640 JPEG, which every
model's input rules accept).
"""

from __future__ import annotations

from typing import Any, NamedTuple

SEEDANCE_TIERS = ("", "fast-", "mini-")


def examples(base: str) -> dict[str, dict[str, Any]]:
    """The documented example request of each typed catalogue model (beyond the two with their own tests)."""
    image, video = f"{base}/character.jpg", f"{base}/reference.mp4"
    found: dict[str, dict[str, Any]] = {}
    for tier in SEEDANCE_TIERS:
        text = "A cat in a spacesuit floats past a window, the Earth turning below"
        found[f"seedance-2.0-{tier}text-to-video"] = {
            "model": f"seedance-2.0-{tier}text-to-video",
            "prompt": text,
            "duration": 5,
            "quality": "720p",
            "aspect_ratio": "16:9",
            "generate_audio": True,
        }
        found[f"seedance-2.0-{tier}image-to-video"] = {
            "model": f"seedance-2.0-{tier}image-to-video",
            "prompt": "The character turns and waves",
            "image_urls": [image],
            "duration": 4,
            "quality": "480p",
            "aspect_ratio": "adaptive",
        }
        found[f"seedance-2.0-{tier}reference-to-video"] = {
            "model": f"seedance-2.0-{tier}reference-to-video",
            "prompt": "@image1 dances the moves of @video1",
            "image_urls": [image],
            "video_urls": [video],
            "duration": 6,
            "quality": "720p",
            "generate_audio": False,
        }
    found["kling-o3-text-to-video"] = {
        "model": "kling-o3-text-to-video",
        "prompt": "A paper boat drifting down a rainy street",
        "duration": 5,
        "aspect_ratio": "16:9",
        "quality": "720p",
        "sound": "on",
    }
    found["kling-o3-image-to-video"] = {
        "model": "kling-o3-image-to-video",
        "prompt": "The character starts to dance",
        "image_start": image,
        "duration": 5,
        "quality": "1080p",
        "sound": "off",
    }
    found["kling-o3-video-edit"] = {
        "model": "kling-o3-video-edit",
        "prompt": "Turn the scene into a snowy evening",
        "video_url": video,
        "quality": "720p",
        "keep_original_sound": True,
    }
    found["kling-v3-text-to-video"] = {
        "model": "kling-v3-text-to-video",
        "prompt": "A lighthouse at dusk, waves crashing",
        "negative_prompt": "text, watermark",
        "duration": 10,
        "aspect_ratio": "9:16",
        "quality": "720p",
        "sound": "off",
    }
    found["kling-v3-image-to-video"] = {
        "model": "kling-v3-image-to-video",
        "image_start": image,
        "image_end": image,
        "duration": 5,
        "quality": "720p",
    }
    return found


class Violation(NamedTuple):
    """``changes`` (``None`` values remove a field) break one rule of ``model``'s example; the refusal names
    ``field``."""

    model: str
    changes: dict[str, Any]
    field: str

    @property
    def id(self) -> str:
        return f"{self.model}:{self.field}:{'+'.join(self.changes)}"


def shots(*seconds: int) -> list[dict[str, Any]]:
    return [{"index": i + 1, "prompt": f"shot {i + 1}", "duration": str(s)} for i, s in enumerate(seconds)]


def _multi(*seconds: int, shot_type: str = "customize") -> dict[str, Any]:
    return {"multi_shot": True, "shot_type": shot_type, "multi_prompt": shots(*seconds)}


X = "https://cdn.example.com/x.jpg"
V = "https://cdn.example.com/x.mp4"
A = "https://cdn.example.com/x.mp3"

VIOLATIONS = [
    # Seedance 2.0, one per rule of the fact sheet (and the shared fields)
    Violation("seedance-2.0-text-to-video", {"prompt": None}, "prompt"),
    Violation("seedance-2.0-text-to-video", {"duration": 3}, "duration"),
    Violation("seedance-2.0-text-to-video", {"duration": 16}, "duration"),
    Violation("seedance-2.0-text-to-video", {"quality": "2k"}, "quality"),
    Violation("seedance-2.0-fast-text-to-video", {"quality": "1080p"}, "quality"),
    Violation("seedance-2.0-mini-image-to-video", {"quality": "4k"}, "quality"),
    Violation("seedance-2.0-text-to-video", {"aspect_ratio": "2:1"}, "aspect_ratio"),
    Violation("seedance-2.0-text-to-video", {"image_urls": [X]}, "image_urls"),
    Violation("seedance-2.0-fast-text-to-video", {"audio_urls": [A]}, "audio_urls"),
    Violation("seedance-2.0-image-to-video", {"image_urls": None}, "image_urls"),
    Violation("seedance-2.0-image-to-video", {"image_urls": [X, X, X]}, "image_urls"),
    Violation("seedance-2.0-image-to-video", {"video_urls": [V]}, "video_urls"),
    Violation("seedance-2.0-reference-to-video", {"image_urls": [X] * 10}, "image_urls"),
    Violation("seedance-2.0-reference-to-video", {"video_urls": [V] * 4}, "video_urls"),
    Violation("seedance-2.0-reference-to-video", {"audio_urls": [A] * 4}, "audio_urls"),
    Violation(
        "seedance-2.0-reference-to-video", {"image_urls": None, "video_urls": None, "audio_urls": [A]}, "image_urls"
    ),
    Violation("seedance-2.0-mini-text-to-video", {"model_params": {"web_search": True}}, "model_params.web_search"),
    Violation("seedance-2.0-image-to-video", {"model_params": {"web_search": True}}, "model_params.web_search"),
    Violation(
        "seedance-2.0-text-to-video", {"content_filter": False, "model_params": {"web_search": True}}, "content_filter"
    ),
    Violation("seedance-2.0-text-to-video", {"callback_url": "http://example.com/hook"}, "callback_url"),
    # Kling O3 text-to-video
    Violation("kling-o3-text-to-video", {"prompt": None}, "prompt"),
    Violation("kling-o3-text-to-video", {"prompt": "x" * 2501}, "prompt"),
    Violation("kling-o3-text-to-video", {"duration": 2}, "duration"),
    Violation("kling-o3-text-to-video", {"duration": 16}, "duration"),
    Violation("kling-o3-text-to-video", {"quality": "480p"}, "quality"),
    Violation("kling-o3-text-to-video", {"aspect_ratio": "4:3"}, "aspect_ratio"),
    Violation("kling-o3-text-to-video", {"sound": "yes"}, "sound"),
    Violation("kling-o3-text-to-video", {"model_params": {"element_list": [{"element_id": "1"}] * 8}}, "element_list"),
    Violation("kling-o3-text-to-video", {"model_params": {"multi_shot": True}}, "shot_type"),
    Violation("kling-o3-text-to-video", {"prompt": None, "model_params": _multi(2, 2)}, "multi_prompt"),
    Violation("kling-o3-text-to-video", {"model_params": _multi(5, shot_type="intelligence")}, "shot_type"),
    # Kling O3 image-to-video
    Violation("kling-o3-image-to-video", {"image_start": None, "image_end": X}, "image_end"),
    Violation("kling-o3-image-to-video", {"image_end": X, "image_urls": [X]}, "image_end"),
    Violation("kling-o3-image-to-video", {"image_start": None}, "image_start"),
    Violation("kling-o3-image-to-video", {"image_urls": [X] * 8}, "image_urls"),
    Violation("kling-o3-image-to-video", {"model_params": {"element_list": [{"element_id": "1"}] * 4}}, "element_list"),
    Violation(
        "kling-o3-image-to-video",
        {"prompt": None, "model_params": {**_multi(5), "multi_prompt": [{**shots(5)[0], "prompt": "x" * 513}]}},
        "multi_prompt",
    ),
    # Kling O3 video edit
    Violation("kling-o3-video-edit", {"video_url": None}, "video_url"),
    Violation("kling-o3-video-edit", {"image_urls": [X] * 5}, "image_urls"),
    Violation("kling-o3-video-edit", {"quality": "4k"}, "quality"),
    Violation("kling-o3-video-edit", {"model_params": {"multi_shot": True}}, "multi_shot"),
    # Kling V3
    Violation("kling-v3-text-to-video", {"prompt": None}, "prompt"),
    Violation(
        "kling-v3-text-to-video", {"prompt": None, "model_params": _multi(10, shot_type="intelligence")}, "prompt"
    ),
    Violation("kling-v3-text-to-video", {"model_params": _multi(4, 4)}, "multi_prompt"),
    Violation("kling-v3-text-to-video", {"model_params": {"element_list": [{"element_id": "1"}]}}, "element_list"),
    Violation("kling-v3-text-to-video", {"duration": 20}, "duration"),
    Violation("kling-v3-image-to-video", {"image_start": None, "image_end": None}, "image_start"),
    Violation("kling-v3-image-to-video", {"model_params": {"element_list": [{"element_id": "1"}] * 4}}, "element_list"),
    Violation("kling-v3-image-to-video", {"quality": "480p"}, "quality"),
]


def broken(base: str, violation: Violation) -> dict[str, Any]:
    """The model's example with the violation's changes applied (``None``: the field removed)."""
    body = {**examples(base)[violation.model], **violation.changes}
    return {name: value for name, value in body.items() if value is not None}
