"""
Pydantic v2 models of the EvoLink video API contract, one module per question:

- :mod:`.requests`: the create request of each model and :func:`parse_request` (what may be sent);
- :mod:`.media`: media input references (public URL, object-storage URI, local file) and where they sit;
- :mod:`.callback`: the ``callback_url`` rules;
- :mod:`.catalogue`: one declarative entry per EvoLink video model id (ranges, defaults, fields, prices, render
  time), read from ``api_reference/catalogue.json`` when first needed; :mod:`.typed` and :mod:`.field_rules` check a
  request against it; the family modules hold the request classes (:mod:`.seedance`, :mod:`.kling`,
  :mod:`.seedance_more`, :mod:`.kling_more`, :mod:`.veo_sora`, :mod:`.minimax`, :mod:`.wan`, :mod:`.more_families`,
  :mod:`.input_driven` on :mod:`.family`), imported when a request of the family is first parsed;
- :mod:`.pricing`: published prices, :func:`estimate_credits` and :func:`credit_usage` (what a task costs);
- :mod:`.status`: :class:`TaskStatus` (a leaf: it imports nothing of the provider);
- :mod:`.responses`: what EvoLink answers (task detail, credits, errors, uploaded files);
- :mod:`.field_errors`: validation errors that name their field and rule.

Every public name is importable from here, and each is imported from its submodule when first asked for
(``models.TaskDetail``, ``from airflow_provider_evolink.models import VeoRequest``), so that parsing a DAG file
defines no request or answer model and reads no catalogue, however many models it lists
(``benchmarks/import_cost.py``, issue 34).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_evolink.models.catalogue import ModelSpec, model_spec, model_specs
    from airflow_provider_evolink.models.family import FamilyRequest
    from airflow_provider_evolink.models.input_driven import OmniHumanRequest, TopazUpscaleRequest, VideoRetalkRequest
    from airflow_provider_evolink.models.kling import (
        KlingO3ImageToVideoRequest,
        KlingO3TextToVideoRequest,
        KlingO3VideoEditRequest,
        KlingV3ImageToVideoRequest,
        KlingV3TextToVideoRequest,
    )
    from airflow_provider_evolink.models.kling_more import (
        KlingElementRequest,
        KlingMotionControl26Request,
        KlingO1Request,
        KlingV3TurboRequest,
    )
    from airflow_provider_evolink.models.kling_reference import (
        KlingO3ReferenceToVideoRequest,
        KlingV3MotionControlRequest,
    )
    from airflow_provider_evolink.models.media import MediaField, has_unresolved_inputs, input_kind, media_fields
    from airflow_provider_evolink.models.minimax import HailuoRequest, MiniMaxH3Request
    from airflow_provider_evolink.models.more_families import GeminiOmniRequest, GrokImagineRequest, HappyHorseRequest
    from airflow_provider_evolink.models.pricing import credit_usage, estimate_credits
    from airflow_provider_evolink.models.requests import (
        KLING_O3_REFERENCE_TO_VIDEO,
        KLING_V3_MOTION_CONTROL,
        EvoLinkRequest,
        VideoGenerationRequest,
        parse_request,
    )
    from airflow_provider_evolink.models.responses import (
        ApiErrorBody,
        ApiErrorDetail,
        CreditBalance,
        Credits,
        CreditsResponse,
        TaskDetail,
        TaskError,
        TaskInfo,
        UploadedFile,
        UploadResponse,
        Usage,
        VideoGenerationTask,
    )
    from airflow_provider_evolink.models.seedance import (
        SeedanceImageToVideoRequest,
        SeedanceReferenceToVideoRequest,
        SeedanceTextToVideoRequest,
    )
    from airflow_provider_evolink.models.seedance_more import Seedance1Request, Seedance25Request
    from airflow_provider_evolink.models.status import TaskStatus
    from airflow_provider_evolink.models.veo_sora import SoraRequest, VeoRequest
    from airflow_provider_evolink.models.wan import Wan25Request, Wan26Request, Wan27Request, Wan30Request

__all__ = [
    "KLING_O3_REFERENCE_TO_VIDEO",
    "KLING_V3_MOTION_CONTROL",
    "ApiErrorBody",
    "ApiErrorDetail",
    "CreditBalance",
    "Credits",
    "CreditsResponse",
    "EvoLinkRequest",
    "FamilyRequest",
    "GeminiOmniRequest",
    "GrokImagineRequest",
    "HailuoRequest",
    "HappyHorseRequest",
    "KlingElementRequest",
    "KlingMotionControl26Request",
    "KlingO1Request",
    "KlingO3ImageToVideoRequest",
    "KlingO3ReferenceToVideoRequest",
    "KlingO3TextToVideoRequest",
    "KlingO3VideoEditRequest",
    "KlingV3ImageToVideoRequest",
    "KlingV3MotionControlRequest",
    "KlingV3TextToVideoRequest",
    "KlingV3TurboRequest",
    "MediaField",
    "MiniMaxH3Request",
    "ModelSpec",
    "OmniHumanRequest",
    "Seedance1Request",
    "Seedance25Request",
    "SeedanceImageToVideoRequest",
    "SeedanceReferenceToVideoRequest",
    "SeedanceTextToVideoRequest",
    "SoraRequest",
    "TaskDetail",
    "TaskError",
    "TaskInfo",
    "TaskStatus",
    "TopazUpscaleRequest",
    "UploadResponse",
    "UploadedFile",
    "Usage",
    "VeoRequest",
    "VideoGenerationRequest",
    "VideoGenerationTask",
    "VideoRetalkRequest",
    "Wan25Request",
    "Wan26Request",
    "Wan27Request",
    "Wan30Request",
    "credit_usage",
    "estimate_credits",
    "has_unresolved_inputs",
    "input_kind",
    "media_fields",
    "model_spec",
    "model_specs",
    "parse_request",
]


#: The submodule defining each public name not listed in a module's own ``__all__`` lookup below.
_HOMES = {
    "ModelSpec": "catalogue",
    "model_spec": "catalogue",
    "model_specs": "catalogue",
    "MediaField": "media",
    "has_unresolved_inputs": "media",
    "input_kind": "media",
    "media_fields": "media",
    "credit_usage": "pricing",
    "estimate_credits": "pricing",
    "KLING_O3_REFERENCE_TO_VIDEO": "requests",
    "KLING_V3_MOTION_CONTROL": "requests",
    "EvoLinkRequest": "requests",
    "KlingO3ReferenceToVideoRequest": "kling_reference",
    "KlingV3MotionControlRequest": "kling_reference",
    "VideoGenerationRequest": "requests",
    "parse_request": "requests",
    "TaskStatus": "status",
    "KlingO3ImageToVideoRequest": "kling",
    "KlingO3TextToVideoRequest": "kling",
    "KlingO3VideoEditRequest": "kling",
    "KlingV3ImageToVideoRequest": "kling",
    "KlingV3TextToVideoRequest": "kling",
    "SeedanceImageToVideoRequest": "seedance",
    "SeedanceReferenceToVideoRequest": "seedance",
    "SeedanceTextToVideoRequest": "seedance",
    "FamilyRequest": "family",
    "Seedance25Request": "seedance_more",
    "Seedance1Request": "seedance_more",
    "KlingV3TurboRequest": "kling_more",
    "KlingO1Request": "kling_more",
    "KlingMotionControl26Request": "kling_more",
    "KlingElementRequest": "kling_more",
    "VeoRequest": "veo_sora",
    "SoraRequest": "veo_sora",
    "HailuoRequest": "minimax",
    "MiniMaxH3Request": "minimax",
    "Wan25Request": "wan",
    "Wan26Request": "wan",
    "Wan27Request": "wan",
    "Wan30Request": "wan",
    "HappyHorseRequest": "more_families",
    "GeminiOmniRequest": "more_families",
    "GrokImagineRequest": "more_families",
    "OmniHumanRequest": "input_driven",
    "VideoRetalkRequest": "input_driven",
    "TopazUpscaleRequest": "input_driven",
}


def __getattr__(name: str) -> Any:
    """Every public name, imported from its submodule when first asked for (``models.TaskDetail``,
    ``from airflow_provider_evolink.models import SeedanceTextToVideoRequest``): importing this package defines no
    request class and reads no catalogue (``benchmarks/import_cost.py``). The answer models are those of
    ``responses.__all__``; a family's request classes are found through its module.

    :raises AttributeError: ``name`` is none of them.
    """
    from importlib import import_module

    home = _HOMES.get(name)
    if home is None and name[:1].isupper() and name in _RESPONSES:
        home = "responses"
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


#: The answer models (``responses.__all__``), imported from :mod:`.responses` when first asked for.
_RESPONSES = frozenset(
    (
        "ApiErrorBody",
        "ApiErrorDetail",
        "CreditBalance",
        "Credits",
        "CreditsResponse",
        "TaskDetail",
        "TaskError",
        "TaskInfo",
        "UploadResponse",
        "UploadedFile",
        "Usage",
        "VideoGenerationTask",
    )
)
