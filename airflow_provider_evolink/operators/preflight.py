"""
What the generate operator refuses before any credit is spent: an invalid request, a cost over ``max_credits``,
trigger arguments that could not be deferred, and bad constructor arguments. Each error names the field and the
rule; the operator maps them through :func:`~airflow_provider_evolink.airflow_errors.fail_or_retry` (fail now).

Sources: the request rules of :mod:`airflow_provider_evolink.models`, EvoLink's price list and the published prices
(:mod:`airflow_provider_evolink.models.cost_estimate`; ``airflow_provider_evolink/api_reference/evolink-api.md``,
"Pricing", "Price list").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from airflow_provider_evolink.defaults import DEFAULT_INPUT_LINK_EXPIRATION, MAX_INPUT_LINK_EXPIRATION
from airflow_provider_evolink.exceptions import EvoLinkConfigError
from airflow_provider_evolink.models.requests import EvoLinkRequest, parse_request

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_evolink.hooks.evolink import EvoLinkHook
    from airflow_provider_evolink.hooks.price_list import PriceListRead
    from airflow_provider_evolink.models.cost_estimate import CostEstimate

__all__ = [
    "DEFAULT_INPUT_LINK_EXPIRATION",
    "check_budget",
    "check_trigger_serializes",
    "checked_input_link_expiration",
    "checked_max_credits",
    "read_price_list",
    "validated_request",
]


def validated_request(request: Any) -> EvoLinkRequest:
    """``request`` (a model or a dict) validated into its model's class.

    :raises EvoLinkConfigError: every offending field and rule, in one message; or not a request at all.
    """
    try:
        return parse_request(request)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'request'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise EvoLinkConfigError(f"Invalid EvoLink request (nothing was submitted): {problems}") from None
    except TypeError as error:
        raise EvoLinkConfigError(f"Invalid EvoLink request (nothing was submitted): {error}") from None


def read_price_list(hook: EvoLinkHook) -> PriceListRead:
    """EvoLink's price list for the estimate (``EvoLinkHook.get_price_list``: ``GET /web/api/models/pricing``, no API
    key). Never raises: a connection that cannot be read yet leaves the list out (submitting says what is wrong)."""
    from airflow_provider_evolink.hooks.price_list import PriceListRead

    try:
        return hook.get_price_list()
    except Exception as error:  # the price list is advice: the connection's own errors surface when submitting
        return PriceListRead(None, f"EvoLink's price list was not read ({type(error).__name__})")


def check_budget(
    request: EvoLinkRequest,
    max_credits: float | None,
    log: Any,
    *,
    credits_per_second: float | None = None,
    price_list: PriceListRead | None = None,
) -> CostEstimate:
    """Estimate the cost in credits, log it with its source, and refuse one over ``max_credits``, or one that cannot
    be estimated while ``max_credits`` is set (fail closed).

    Sources, first that prices the request (:mod:`airflow_provider_evolink.models.cost_estimate`): EvoLink's price
    list, the catalogue's published price, then ``credits_per_second`` (credits per second of output).

    :param price_list: EvoLink's price list as the hook read it (``EvoLinkHook.get_price_list``); ``None``: not
        consulted.
    :return: the estimate, recorded beside the reservation (XCom ``evolink_usage``, lineage).
    :raises EvoLinkConfigError: over budget, or no known price with a budget set.
    """
    from airflow_provider_evolink.models.cost_estimate import estimate_cost  # when a task runs: not at DAG parsing

    if price_list is not None and price_list.problem:
        log.warning("%s: prices come from the next source that has one", price_list.problem)
    estimate = estimate_cost(
        request,
        price_list.price_list if price_list is not None else None,
        credits_per_second=credits_per_second,
        list_problem=price_list.problem if price_list is not None else None,
    )
    quality = getattr(request, "quality", None) or "720p"
    if estimate.credits is None:
        log.info(
            "No price known for model %s at %s, so the cost cannot be estimated: %s",
            request.model,
            quality,
            estimate.basis,
        )
        if max_credits is not None:
            raise EvoLinkConfigError(
                f"max_credits={max_credits:g} is set but model {request.model!r} at {quality} has no known "
                f"price ({estimate.basis}), so the cost cannot be checked: refusing to submit (fail closed). Pass "
                "credits_per_second=<credits per second of output> (with a duration in the request) to check "
                "against your own price, or remove max_credits to submit without a budget check."
            )
        return estimate
    log.info(
        "Estimated cost: %.4g credits (%s at %s), from %s: %s",
        estimate.credits,
        request.model,
        quality,
        estimate.source_name,
        estimate.basis,
    )
    if max_credits is not None and estimate.credits > max_credits:
        raise EvoLinkConfigError(
            f"Estimated cost {estimate.credits:g} credits exceeds max_credits={max_credits:g} ({request.model} at "
            f"{quality}, priced by {estimate.source_name}): nothing was submitted"
        )
    return estimate


def check_trigger_serializes(trigger: BaseTrigger) -> None:
    """Refuse trigger arguments that would not survive the deferral: that would fail only after EvoLink billed.

    :param trigger: the trigger the operator would defer to, built with a stand-in EvoLink task ID.
    :raises EvoLinkConfigError: serde cannot encode the arguments, or they come back different.
    """
    from airflow_provider_evolink.compat import deserialize_trigger_kwargs, serialize_trigger_kwargs

    _, kwargs = trigger.serialize()
    try:
        round_trip = deserialize_trigger_kwargs(serialize_trigger_kwargs(kwargs))
    except Exception as error:
        raise EvoLinkConfigError(
            f"The trigger arguments cannot be serialized ({type(error).__name__}: {error}); nothing was submitted"
        ) from None
    if round_trip != kwargs:
        raise EvoLinkConfigError(
            f"The trigger arguments do not survive serialization ({kwargs!r} came back as {round_trip!r}); "
            "nothing was submitted"
        )


def checked_max_credits(value: Any, name: str = "max_credits") -> float | None:
    """``max_credits`` (or the argument ``name``, e.g. ``credits_per_second``): a number of credits >= 0, or
    ``None`` (no budget check, no price of one's own).

    :raises ValueError: anything else, naming the argument.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        raise ValueError(f"{name} must be a number of credits >= 0 or None, got {value!r}")
    return value


def checked_input_link_expiration(value: Any) -> int:
    """``input_link_expiration``: whole seconds from 1 to the longest S3/GCS signed links live.

    :raises ValueError: anything else, naming the argument.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_INPUT_LINK_EXPIRATION:
        raise ValueError(
            f"input_link_expiration must be a whole number of seconds from 1 to {MAX_INPUT_LINK_EXPIRATION} "
            f"(7 days, the longest S3/GCS signed links live), got {value!r}"
        )
    return value
