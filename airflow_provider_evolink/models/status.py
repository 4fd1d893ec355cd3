"""
The status of an EvoLink task (``status`` of ``GET /v1/tasks/{task_id}``, ``get-task-detail.openapi.yaml`` in
``airflow_provider_evolink/api_reference/openapi/``).

A leaf module: it imports nothing of the provider, so the request and answer models can both use it.
"""

from enum import StrEnum

__all__ = ["TaskStatus"]


class TaskStatus(StrEnum):
    """Status of an EvoLink task. ``cancelled`` is not in the OpenAPI enum but EvoLink's client knows it."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether a task in this state will not change any more (``completed``, ``failed``, ``cancelled``)."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
