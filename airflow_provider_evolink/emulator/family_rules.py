"""Rules over several fields of the families typed from EvoLink's parameter index, as the emulator checks them
after a request passed its family's generated contract (``api_reference/openapi/*.generated.openapi.yaml``).

Written from EvoLink's docs pages (each model's ``page`` in ``api_reference/catalogue.json``), independently of the
client's models (like :mod:`.schemas`): the emulator exists to catch the client's mistakes, not to repeat them.
Each rule answers ``(field, message)`` naming the field and the rule, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FAMILY_RULES"]

#: What a rule finds: ``(field, message)``, or ``None`` when the request keeps it.
Found = tuple[str, str] | None

_VEO_IMAGES = {"TEXT": (0, 0), "FIRST&LAST": (1, 2), "REFERENCE": (1, 3)}


def _veo(body: dict[str, Any]) -> Found:
    """Veo 3.1: each ``generation_type`` takes its number of images; ``REFERENCE`` renders 8 s."""
    kind = body.get("generation_type")
    images = len(body.get("image_urls") or ())
    low, high = _VEO_IMAGES.get(str(kind), (0, 3))
    if kind and not low <= images <= high:
        return ("image_urls", f"image_urls must hold {low}-{high} images with generation_type {kind}")
    if kind == "REFERENCE" and body.get("duration", 8) != 8:
        return ("duration", "duration must be 8 with generation_type REFERENCE")
    return None


def _hailuo(body: dict[str, Any]) -> Found:
    """Hailuo: 1080p renders 6 s only."""
    if body.get("quality") == "1080p" and body.get("duration", 6) != 6:
        return ("duration", "duration must be 6 at 1080p")
    return None


def _minimax_h3_frames(body: dict[str, Any]) -> Found:
    """MiniMax H3 image-to-video: a first or a last frame."""
    if not body.get("image_start") and not body.get("image_end"):
        return ("image_start", "image_start or image_end is required")
    return None


def _seedance_draft(body: dict[str, Any]) -> Found:
    """Seedance 2.5: a draft renders at 480p."""
    if body.get("draft") and body.get("quality", "480p") != "480p":
        return ("quality", "quality must be 480p (or omitted) when draft is true")
    return None


def _grok_references(body: dict[str, Any]) -> Found:
    """Grok Imagine 1.5: two images or more (references) render at most 720p."""
    if len(body.get("image_urls") or ()) >= 2 and body.get("quality") == "1080p":
        return ("quality", "quality must be 480p or 720p with two images or more")
    return None


_WAN27_MODES = {
    "first_frame": ("image_start",),
    "first_last_frame": ("image_start", "image_end"),
    "video_continuation": ("video_urls",),
}


def _wan27_mode(body: dict[str, Any]) -> Found:
    """Wan 2.7 image-to-video: each ``generation_mode`` needs its inputs."""
    missing = [name for name in _WAN27_MODES.get(body.get("generation_mode", ""), ()) if not body.get(name)]
    if missing:
        return (missing[0], f"{missing[0]} is required with generation_mode {body['generation_mode']}")
    return None


def _rules() -> dict[str, Callable[[dict[str, Any]], Found]]:
    rules: dict[str, Callable[[dict[str, Any]], Found]] = {}
    for model in ("veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo3.1-fast-beta", "veo3.1-pro-beta"):
        rules[model] = _veo
    for model in ("MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast"):
        rules[model] = _hailuo
    rules["minimax-h3-image-to-video"] = _minimax_h3_frames
    for mode in ("text-to-video", "image-to-video", "reference-to-video", "video-edit", "video-extend"):
        rules[f"seedance-2.5-{mode}"] = _seedance_draft
    rules["grok-imagine-video-1.5-preview"] = _grok_references
    rules["wan2.7-image-to-video"] = _wan27_mode
    return rules


#: The rule of each model id that has one (the callback rule still applies after it, in :mod:`.schemas`).
FAMILY_RULES = _rules()
