"""
OpenLineage facets of EvoLink runs: what ``get_openlineage_facets_on_complete`` of each operator returns.

Imports the OpenLineage provider (extra ``[openlineage]``): only the operators' lineage methods import this
module, and only the provider's listener calls them. Dataset names: :mod:`airflow_provider_evolink.openlineage`.

``EvoLinkGenerateVideoOperator``::

    inputs      the request's media (models.media_fields) as the user named them, before any was signed or
                uploaded: public URLs without their query string, object-store URIs as bucket + key, local
                files as file + path; none when the request is invalid
    outputs     the task's results (same names as the save task's input), when the operator waited for them
    run facets  externalQuery    {externalQueryId: <EvoLink task ID>, source: <API base URL>}
                evolink_generation  EvoLinkGenerationRunFacet (model, seconds, quality, estimated credits and
                                    their source, reserved credits)

``EvoLinkToStorageOperator``::

    inputs      the EvoLink task's results, named without the signed part (query string)
    outputs     the stored files (the URIs its Asset events list), each with outputStatistics {size, fileCount}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from airflow.providers.common.compat.openlineage.facet import (
    ExternalQueryRunFacet,
    InputDataset,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
    RunFacet,
)
from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define

from airflow_provider_evolink.models.cost_estimate import CATALOGUE, CostEstimate
from airflow_provider_evolink.models.media import media_fields
from airflow_provider_evolink.models.pricing import estimate_credits
from airflow_provider_evolink.models.requests import EvoLinkRequest, KlingO3ReferenceToVideoRequest, parse_request
from airflow_provider_evolink.models.typed import CatalogueRequest
from airflow_provider_evolink.openlineage import dataset_name, public_location

__all__ = ["GENERATION_FACET", "EvoLinkGenerationRunFacet", "generation_lineage", "storage_lineage"]

#: Key of :class:`EvoLinkGenerationRunFacet` among a run's facets.
GENERATION_FACET = "evolink_generation"


@define
class EvoLinkGenerationRunFacet(RunFacet):
    """What one EvoLink generation was asked for and what it costs.

    :ivar model: the EvoLink model id.
    :ivar durationSeconds: requested output length in seconds (``None`` where the output follows a reference
        video, as for motion control, or the model is not modelled).
    :ivar quality: the requested quality (``480p`` … ``4k``) or ``None`` (the model's default).
    :ivar estimatedCredits: the provider's estimate before submitting (``None``: no known price).
    :ivar estimateSource: where the estimate came from: ``price_list`` (EvoLink's live price list), ``catalogue``
        (its published price) or ``credits_per_second`` (the task's own); ``None`` without an estimate.
    :ivar reservedCredits: credits EvoLink reserved in its create answer (``None``: not reported).
    """

    model: str | None = None
    durationSeconds: int | None = None  # camelCase, as OpenLineage facets are
    quality: str | None = None
    estimatedCredits: float | None = None
    reservedCredits: float | None = None
    estimateSource: str | None = None


def generation_lineage(
    request: Any,
    *,
    evolink_task_id: str | None,
    api_base_url: str | None,
    reserved_credits: float | None,
    result_locations: Sequence[str] = (),
    estimate: CostEstimate | None = None,
) -> OperatorLineage:
    """The OpenLineage of one ``EvoLinkGenerateVideoOperator`` run (mapping in the module docstring).

    :param request: the create request as the operator was given it (dict form), before any input was signed
        or uploaded: its media are named as the user named them.
    :param evolink_task_id: the EvoLink task ID, ``None`` if nothing was submitted (no ``externalQuery``).
    :param api_base_url: the EvoLink API base URL (``externalQuery.source``; user info and query dropped).
    :param reserved_credits: ``usage.credits_reserved`` of the create answer, in credits.
    :param result_locations: the task's result URLs without their query string, when the operator waited.
    :param estimate: the operator's estimate and its source; ``None``: the catalogue's estimate of ``request``.
    """
    parsed = _parsed(request)
    run_facets: dict[str, RunFacet] = {GENERATION_FACET: _generation_facet(request, parsed, reserved_credits, estimate)}
    if evolink_task_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=evolink_task_id, source=public_location(api_base_url or "")
        )
    return OperatorLineage(
        inputs=[InputDataset(namespace=n.namespace, name=n.name) for n in _names(_media(parsed))],
        outputs=[OutputDataset(namespace=n.namespace, name=n.name) for n in _names(result_locations)],
        run_facets=run_facets,
    )


def storage_lineage(result_locations: Sequence[str], stored_files: Sequence[tuple[str, int]]) -> OperatorLineage:
    """The OpenLineage of one ``EvoLinkToStorageOperator`` run (mapping in the module docstring).

    :param result_locations: the task's result URLs without their query string.
    :param stored_files: ``(uri, size in bytes)`` of each stored file, as its Asset event lists it.
    """
    outputs = []
    for uri, size in stored_files:
        if (name := dataset_name(uri)) is not None:
            statistics = OutputStatisticsOutputDatasetFacet(size=size, fileCount=1)
            outputs.append(
                OutputDataset(namespace=name.namespace, name=name.name, outputFacets={"outputStatistics": statistics})
            )
    return OperatorLineage(
        inputs=[InputDataset(namespace=n.namespace, name=n.name) for n in _names(result_locations)],
        outputs=outputs,
    )


def _names(locations: Sequence[str]) -> list[Any]:
    names = (dataset_name(location) for location in locations)
    return list(dict.fromkeys(name for name in names if name is not None))


def _parsed(request: Any) -> EvoLinkRequest | None:
    try:
        return parse_request(request)
    except (pydantic.ValidationError, TypeError):  # a run that failed validation still names its model
        return None


def _media(request: EvoLinkRequest | None) -> list[str]:
    return [field.value for field in media_fields(request)] if request is not None else []


def _generation_facet(
    request: Any,
    parsed: EvoLinkRequest | None,
    reserved_credits: float | None,
    estimate: CostEstimate | None = None,
) -> EvoLinkGenerationRunFacet:
    if estimate is None and parsed is not None and (published := estimate_credits(parsed)) is not None:
        estimate = CostEstimate(published, CATALOGUE, "the catalogue's published price")
    fields = request if isinstance(request, Mapping) else {}
    duration = fields.get("duration")
    if isinstance(parsed, KlingO3ReferenceToVideoRequest | CatalogueRequest):
        duration = parsed.priced().seconds  # the model's default when omitted
    quality = fields.get("quality")
    return EvoLinkGenerationRunFacet(
        model=fields.get("model") if isinstance(fields.get("model"), str) else None,
        durationSeconds=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        quality=quality if isinstance(quality, str) else None,
        estimatedCredits=estimate.credits if estimate is not None else None,
        reservedCredits=reserved_credits,
        estimateSource=estimate.source if estimate is not None else None,
    )
