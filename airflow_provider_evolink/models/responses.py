"""
Pydantic v2 models of EvoLink's answers: a created task, a task detail, credits, the error envelope, an uploaded
file.

Sources: the ``VideoGenerationResponse`` schema of ``kling-o3-reference-to-video.openapi.yaml`` and
``kling-v3-motion-control.openapi.yaml``, ``get-task-detail.openapi.yaml`` (``TaskDetailResponse``) in
``airflow_provider_evolink/api_reference/openapi/``, and ``airflow_provider_evolink/api_reference/evolink-api.md``
(credits, errors, files API). They ignore fields they do not know and tolerate missing optional ones (the API evolves).

:mod:`airflow_provider_evolink.models` re-exports every name here, imported the first time one is asked for: a DAG
file never reads an answer, so parsing one does not define these classes (``benchmarks/import_cost.py``).
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
import math
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from airflow_provider_evolink.models.status import TaskStatus

__all__ = [
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
]


class _Response(BaseModel):
    """Response-side base: unknown fields are ignored, optional ones may be missing."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


def _code_to_str(value: Any) -> Any:
    # error.code is documented as a string; a numeric code must not make a failed task unreadable.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class TaskInfo(_Response):
    """``task_info``: whether the task can be cancelled, estimated time and output length (seconds)."""

    can_cancel: bool | None = None
    estimated_time: int | None = None
    video_duration: int | None = None


class Usage(_Response):
    """``usage`` of a create response: ``billing_rule`` and ``credits_reserved`` (credits).

    ``credits_used`` and ``credits_refunded`` (credits) are not in the OpenAPI files: they are read when a task
    detail carries them, and stay ``None`` otherwise.
    """

    billing_rule: str | None = None
    credits_reserved: float | None = None
    user_group: str | None = None
    credits_used: float | None = None
    credits_refunded: float | None = None


class TaskError(_Response):
    """``error`` of a failed task: a string business ``code`` (``airflow_provider_evolink/api_reference/evolink-api.md``
    lists them) and a message."""

    code: Annotated[str | None, BeforeValidator(_code_to_str)] = None
    message: str | None = None
    type: str | None = None


def _clamp_progress(value: Any) -> Any:
    # Progress is cosmetic: an out-of-range or missing value must not fail a whole wait.
    if value is None:
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        # JSON's 1e400 reads as infinity, which int() cannot convert; NaN says nothing either.
        return 100 if value == math.inf else 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(int(value), 0), 100)
    return value


Progress = Annotated[int, BeforeValidator(_clamp_progress)]


class VideoGenerationTask(_Response):
    """Answer of ``POST /v1/videos/generations`` (``VideoGenerationResponse`` in the model OpenAPI files)."""

    id: str = Field(min_length=1)
    created: int | None = None
    model: str | None = None
    object: str | None = None
    progress: Progress = 0
    status: TaskStatus = TaskStatus.PENDING
    task_info: TaskInfo | None = None
    type: str | None = None
    usage: Usage | None = None


class TaskDetail(_Response):
    """Answer of ``GET /v1/tasks/{task_id}`` (``get-task-detail.openapi.yaml``, ``TaskDetailResponse``).

    ``results`` are result URLs valid 24 h (signed: treat as secrets). A ``completed`` task must carry at
    least one result; a ``failed`` one carries ``error``. ``usage`` is not in the OpenAPI file: read when
    the answer carries it (see :func:`credit_usage`).
    """

    id: str = Field(min_length=1)
    status: TaskStatus
    created: int | None = None
    model: str | None = None
    object: str | None = None
    progress: Progress = 0
    results: list[str] = Field(default_factory=list)
    error: TaskError | None = None
    task_info: TaskInfo | None = None
    type: str | None = None
    usage: Usage | None = None

    @field_validator("results", mode="before")
    @classmethod
    def _null_results(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _completed_has_results(self) -> Self:
        if self.status is TaskStatus.COMPLETED and not self.results:
            raise ValueError("a completed task must have at least one result URL")
        return self


class CreditBalance(_Response):
    """One balance of ``GET /v1/credits`` (credits)."""

    remaining_credits: float | None = None
    used_credits: float | None = None
    unlimited_credits: bool | None = None


class Credits(_Response):
    """``GET /v1/credits`` ``data``: ``user`` is the account, ``token`` this API key
    (``airflow_provider_evolink/api_reference/evolink-api.md``)."""

    user: Annotated[CreditBalance, BeforeValidator(_none_to_empty)] = Field(default_factory=CreditBalance)
    token: CreditBalance | None = None

    @property
    def remaining(self) -> float | None:
        """Credits this key can still spend: the key's own limit if it has one, else the account's."""
        if self.token is not None and not self.token.unlimited_credits and self.token.remaining_credits is not None:
            if self.user.remaining_credits is None:
                return self.token.remaining_credits
            return min(self.token.remaining_credits, self.user.remaining_credits)
        return self.user.remaining_credits


class ApiErrorDetail(TaskError):
    """``error`` of the error envelope: a failed task's ``code``, ``message`` and ``type``, and the ``param`` at
    fault."""

    param: str | None = None


class CreditsResponse(_Response):
    """The ``GET /v1/credits`` envelope; ``success: false`` is an error even with HTTP 200.

    ``message`` / ``error`` are read when present, to say why.
    """

    success: bool
    data: Credits | None = None
    message: str | None = None
    error: ApiErrorDetail | str | None = None

    @property
    def failure_reason(self) -> str | None:
        """The server's explanation of ``success: false``, if it gave one."""
        if isinstance(self.error, ApiErrorDetail):
            reason = self.error.message or self.error.code
            return f"[{self.error.code}] {reason}" if self.error.code and self.error.message else reason
        return self.error or self.message


class ApiErrorBody(_Response):
    """The documented error envelope ``{"error": {"code", "message", "type", "param"?}}``."""

    error: ApiErrorDetail


class UploadedFile(_Response):
    """A file stored by EvoLink's files API (``POST /api/v1/files/upload/{stream,base64,url}`` on the files host,
    ``data`` of the answer; see ``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API (inputs)").

    ``file_url`` is what a generation request's media field takes; it is public until ``expires_at`` (72 h after
    the upload), so it is kept out of ``repr`` and masked in logs like a secret, and so is ``file_id`` (the
    ``download_url`` is the files host plus the id). ``file_size`` is in bytes.
    """

    file_id: str = Field(min_length=1, repr=False)
    file_url: str = Field(min_length=1, repr=False)
    download_url: str | None = Field(default=None, repr=False)
    mime_type: str | None = None
    file_size: int | None = None
    expires_at: datetime | None = None
    file_name: str | None = None
    original_name: str | None = None
    upload_path: str | None = None
    upload_time: datetime | None = None


class UploadResponse(_Response):
    """The files API envelope: HTTP 200 with ``success: false`` (quota used up, type refused) carries ``code``
    and ``msg`` and is an error."""

    success: bool
    code: Annotated[str | None, BeforeValidator(_code_to_str)] = None
    msg: str | None = None
    data: UploadedFile | None = None
