"""
Pydantic v2 models of the EvoLink video API contract, one module per question:

- :mod:`.requests`: the create request of each model and :func:`parse_request` (what may be sent);
- :mod:`.media`: media input references (public URL, object-storage URI, local file) and where they sit;
- :mod:`.callback`: the ``callback_url`` rules;
- :mod:`.catalogue`: one declarative entry per typed model (ranges, defaults, prices, render time), read from
  ``api_reference/catalogue.json``; :mod:`.typed` checks a request against it; :mod:`.seedance` and :mod:`.kling`
  hold the request classes of the Seedance 2.0 and Kling O3/V3 families;
- :mod:`.pricing`: published prices, :func:`estimate_credits` and :func:`credit_usage` (what a task costs);
- :mod:`.status`: :class:`TaskStatus` (a leaf: it imports nothing of the provider);
- :mod:`.responses`: what EvoLink answers (task detail, credits, errors, uploaded files);
- :mod:`.field_errors`: validation errors that name their field and rule.

Every public name is importable from here. The answer models are imported when first asked for
(``models.TaskDetail``), so that parsing a DAG file does not define them (``benchmarks/import_cost.py``);
:mod:`.responses` imports only :mod:`.status`, so that lazy edge closes no import circle.
"""

from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.models.catalogue import ModelSpec, model_spec, model_specs
from airflow_provider_evolink.models.kling import (
    KlingO3ImageToVideoRequest,
    KlingO3TextToVideoRequest,
    KlingO3VideoEditRequest,
    KlingV3ImageToVideoRequest,
    KlingV3TextToVideoRequest,
)
from airflow_provider_evolink.models.media import MediaField, has_unresolved_inputs, input_kind, media_fields
from airflow_provider_evolink.models.pricing import credit_usage, estimate_credits
from airflow_provider_evolink.models.requests import (
    KLING_O3_REFERENCE_TO_VIDEO,
    KLING_V3_MOTION_CONTROL,
    EvoLinkRequest,
    KlingO3ReferenceToVideoRequest,
    KlingV3MotionControlRequest,
    VideoGenerationRequest,
    parse_request,
)
from airflow_provider_evolink.models.seedance import (
    SeedanceImageToVideoRequest,
    SeedanceReferenceToVideoRequest,
    SeedanceTextToVideoRequest,
)
from airflow_provider_evolink.models.status import TaskStatus

if TYPE_CHECKING:
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

__all__ = [
    "KLING_O3_REFERENCE_TO_VIDEO",
    "KLING_V3_MOTION_CONTROL",
    "ApiErrorBody",
    "ApiErrorDetail",
    "CreditBalance",
    "Credits",
    "CreditsResponse",
    "EvoLinkRequest",
    "KlingO3ImageToVideoRequest",
    "KlingO3ReferenceToVideoRequest",
    "KlingO3TextToVideoRequest",
    "KlingO3VideoEditRequest",
    "KlingV3ImageToVideoRequest",
    "KlingV3MotionControlRequest",
    "KlingV3TextToVideoRequest",
    "MediaField",
    "ModelSpec",
    "SeedanceImageToVideoRequest",
    "SeedanceReferenceToVideoRequest",
    "SeedanceTextToVideoRequest",
    "TaskDetail",
    "TaskError",
    "TaskInfo",
    "TaskStatus",
    "UploadResponse",
    "UploadedFile",
    "Usage",
    "VideoGenerationRequest",
    "VideoGenerationTask",
    "credit_usage",
    "estimate_credits",
    "has_unresolved_inputs",
    "input_kind",
    "media_fields",
    "model_spec",
    "model_specs",
    "parse_request",
]


def __getattr__(name: str) -> Any:
    """``models.TaskDetail`` and the other answer models (``responses.__all__``), imported from :mod:`.responses`
    when first asked for.

    :raises AttributeError: ``name`` is neither defined here nor an answer model.
    """
    if name[:1].isupper():  # class names only: a probe for ``__wrapped__`` or the like imports nothing
        from airflow_provider_evolink.models import responses

        if name in responses.__all__:
            return getattr(responses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
