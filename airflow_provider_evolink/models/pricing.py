"""
What a task costs: the estimate checked against ``max_credits`` before submitting (from the catalogue's published
per-second prices, :mod:`.catalogue`; the operator asks EvoLink's live price list first, :mod:`.cost_estimate`
builds on this module), and the credits a task reserved, used and got back (for XCom and Asset extras).

Source: ``airflow_provider_evolink/api_reference/catalogue.json`` (prices by model) and
``airflow_provider_evolink/api_reference/evolink-api.md`` ("Pricing"; "Endpoints": the create answer's
``usage.credits_reserved`` is the authority on the price; "Task errors": failed tasks are refunded).
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.models.catalogue import credits_for, model_spec
from airflow_provider_evolink.models.requests import EvoLinkRequest, parse_request
from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
    from airflow_provider_evolink.models.responses import Usage

__all__ = ["credit_usage", "estimate_credits"]


def estimate_credits(
    request: EvoLinkRequest | Mapping[str, Any],
    *,
    credits_per_second: float | None = None,
) -> float | None:
    """Credits a request is expected to reserve, from EvoLink's published per-second prices (the catalogue);
    ``None`` if the price is unknown, so that a budget check fails closed.

    Typed models: rate(quality, sound) × max(seconds, billing minimum), seconds = ``duration`` or the model's
    default; a Seedance reference video bills its seconds too at a lower rate (counted at their bound,
    ``max(15 s, output)``); ×1.1 with ``content_filter`` false. Motion control: the longest reference its
    orientation allows (10 s ``image``, 30 s ``video``). ``None``: a model without a published price (any untyped
    model, Seedance Mini, 1080p/4k where none is published, O3 reference-to-video with ``generate_audio``) or
    whose output length is not known before submitting (O3 video edit). Rounded up to 4 decimals.

    :param request: a request model or a dict (validated first, like :func:`parse_request`).
    :param credits_per_second: the price to use when none is published (credits per second of output, × the
        request's ``duration``, or its model's default); ignored for a model with a published price.
    :raises pydantic.ValidationError: an invalid request dict.
    """
    if not isinstance(request, EvoLinkRequest):
        request = parse_request(request)
    spec, priced = model_spec(request.model), request.priced()
    estimate = credits_for(spec, priced) if spec is not None and priced is not None else None
    if estimate is not None or credits_per_second is None:
        return estimate
    seconds = priced.seconds if priced is not None else getattr(request, "duration", None)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        return None
    # round() first: binary floating point must not add 0.0001 to an exact product.
    return math.ceil(round(credits_per_second * seconds * 10_000, 6)) / 10_000


def credit_usage(
    reserved: "Usage | None",
    status: TaskStatus | None = None,
    reported: "Usage | None" = None,
    estimate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The credits of one EvoLink task as plain JSON, for XCom and Asset extras (no secrets)::

        {"billing_rule": str | None,        # e.g. "per_second"
         "credits_reserved": float | None,  # reserved by the create answer (VideoUsage in the model OpenAPI files)
         "credits_used": float | None,      # only when a task detail reports it
         "credits_refunded": float | None,  # reported, else all of credits_reserved once the task failed
         "refunded": bool,                  # True once the task failed: EvoLink refunds failed tasks
         "credits": float | None,           # what the task costs: credits_used if reported, else
                                            # credits_reserved - credits_refunded (None if nothing is known)
         # with an estimate (the generate operator always passes one):
         "credits_estimated": float | None, # the estimate before submitting (None: no source priced it)
         "estimate_source": str | None,     # "price_list" (EvoLink's price list), "catalogue" (its published
                                            # price) or "credits_per_second" (the task's own); None: unpriced
         "estimate_basis": str}             # how the estimate was made, in words

    A ``cancelled`` task is not counted as refunded (EvoLink documents refunds for failed tasks only), so its
    ``credits`` stays the reservation: an upper bound. Source: ``airflow_provider_evolink/api_reference/evolink-api.md``
    ("Endpoints": the create answer's ``usage.credits_reserved`` is the authority on the price; "Task errors": failed
    tasks are refunded).

    :param reserved: ``usage`` of the ``POST /v1/videos/generations`` answer (the authority on the reservation).
    :param status: the task's status when known (``GET /v1/tasks/{task_id}``).
    :param reported: ``usage`` of a task detail, when the answer carries one.
    :param estimate: the keys of the estimate made before submitting
        (:meth:`~airflow_provider_evolink.models.cost_estimate.CostEstimate.as_usage`).
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
    usage = {
        "billing_rule": next(
            (usage.billing_rule for usage in (reported, reserved) if usage and usage.billing_rule), None
        ),
        "credits_reserved": credits_reserved,
        "credits_used": credits_used,
        "credits_refunded": credits_refunded,
        "refunded": refunded,
        "credits": credits,
    }
    return usage | dict(estimate) if estimate is not None else usage
