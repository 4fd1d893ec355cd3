"""
What a task costs: the published per-second prices, the estimate checked against ``max_credits`` before
submitting, and the credits a task reserved, used and got back (for XCom and Asset extras).

Source: ``airflow_provider_evolink/api_reference/evolink-api.md`` ("Pricing"; "Endpoints": the create answer's
``usage.credits_reserved`` is the authority on the price; "Task errors": failed tasks are refunded).
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.models.requests import (
    KLING_O3_REFERENCE_TO_VIDEO,
    KLING_V3_MOTION_CONTROL,
    EvoLinkRequest,
    KlingO3ReferenceToVideoRequest,
    KlingV3MotionControlRequest,
    parse_request,
)
from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import Usage

__all__ = ["MOTION_CONTROL_MAX_SECONDS", "O3_MIN_BILLED_SECONDS", "PRICING", "credit_usage", "estimate_credits"]

#: Credits per second of output by model and quality (``airflow_provider_evolink/api_reference/evolink-api.md``,
#: "Pricing").
PRICING: dict[str, dict[str, float]] = {
    KLING_O3_REFERENCE_TO_VIDEO: {"720p": 8.1, "1080p": 10.8054},
    KLING_V3_MOTION_CONTROL: {"720p": 8.1648, "1080p": 10.88368},
}
#: O3 bills at least this many seconds (``airflow_provider_evolink/api_reference/evolink-api.md``).
O3_MIN_BILLED_SECONDS = 3
#: Motion control output is as long as its reference video; the longest reference each orientation allows
#: (``airflow_provider_evolink/api_reference/evolink-api.md``, "Where the documents disagree"): ``image`` up to 10 s,
#: ``video`` up to 30 s.
MOTION_CONTROL_MAX_SECONDS = {"image": 10, "video": 30}


def estimate_credits(request: EvoLinkRequest | Mapping[str, Any]) -> float | None:
    """Credits a request is expected to reserve, from EvoLink's published per-second prices; ``None`` if the
    price is unknown.

    O3: price(quality) × max(duration, 3 s) (duration defaults to 5 s). Motion control: price(quality) ×
    the longest reference video its ``character_orientation`` allows (10 s ``image``, 30 s ``video``), an
    upper bound since the output is as long as the reference. Quality defaults to 720p. ``None`` (no known
    price, so a budget check must fail closed) for unknown models, O3's ``4k`` tier and O3 with
    ``generate_audio`` (priced differently, and not in the table). Rounded up to 4 decimals.

    :param request: a request model or a dict (validated first, like :func:`parse_request`).
    """
    if not isinstance(request, EvoLinkRequest):
        request = parse_request(request)
    prices = PRICING.get(request.model)
    quality = getattr(request, "quality", None) or "720p"
    if prices is None or quality not in prices:
        return None
    if isinstance(request, KlingO3ReferenceToVideoRequest):
        if request.generate_audio:
            return None
        seconds = max(request.effective_duration, O3_MIN_BILLED_SECONDS)
    elif isinstance(request, KlingV3MotionControlRequest):
        seconds = MOTION_CONTROL_MAX_SECONDS[request.model_params.character_orientation]
    else:  # pragma: no cover - PRICING only lists modelled models
        return None
    # round() first: 10.8054 * 5 * 10_000 is 540270.0000000001 in binary floating point, not a reason to add 0.0001.
    return math.ceil(round(prices[quality] * seconds * 10_000, 6)) / 10_000


def credit_usage(
    reserved: "Usage | None", status: TaskStatus | None = None, reported: "Usage | None" = None
) -> dict[str, Any]:
    """The credits of one EvoLink task as plain JSON, for XCom and Asset extras (no secrets)::

        {"billing_rule": str | None,        # e.g. "per_second"
         "credits_reserved": float | None,  # reserved by the create answer (VideoUsage in the model OpenAPI files)
         "credits_used": float | None,      # only when a task detail reports it
         "credits_refunded": float | None,  # reported, else all of credits_reserved once the task failed
         "refunded": bool,                  # True once the task failed: EvoLink refunds failed tasks
         "credits": float | None}           # what the task costs: credits_used if reported, else
                                            # credits_reserved - credits_refunded (None if nothing is known)

    A ``cancelled`` task is not counted as refunded (EvoLink documents refunds for failed tasks only), so its
    ``credits`` stays the reservation: an upper bound. Source: ``airflow_provider_evolink/api_reference/evolink-api.md``
    ("Endpoints": the create answer's ``usage.credits_reserved`` is the authority on the price; "Task errors": failed
    tasks are refunded).

    :param reserved: ``usage`` of the ``POST /v1/videos/generations`` answer (the authority on the reservation).
    :param status: the task's status when known (``GET /v1/tasks/{task_id}``).
    :param reported: ``usage`` of a task detail, when the answer carries one.
    """
    refunded = status is TaskStatus.FAILED
    credits_reserved = next(
        (usage.credits_reserved for usage in (reserved, reported) if usage and usage.credits_reserved is not None),
        None,
    )
    credits_used = reported.credits_used if reported else None
    credits_refunded = reported.credits_refunded if reported else None
    if credits_refunded is None and refunded:
        credits_refunded = credits_reserved
    if credits_used is not None:
        credits: float | None = credits_used
    elif credits_reserved is None:
        credits = 0.0 if refunded else None
    else:
        credits = round(max(credits_reserved - (credits_refunded or 0.0), 0.0), 6)
    return {
        "billing_rule": next(
            (usage.billing_rule for usage in (reported, reserved) if usage and usage.billing_rule), None
        ),
        "credits_reserved": credits_reserved,
        "credits_used": credits_used,
        "credits_refunded": credits_refunded,
        "refunded": refunded,
        "credits": credits,
    }
