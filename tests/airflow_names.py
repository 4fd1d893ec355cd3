"""Airflow names only the tests use that moved between Airflow 3.1 and 3.3 (the package's own are in ``compat``)."""

from __future__ import annotations

from airflow_provider_evolink.compat import AIRFLOW_V_3_2_PLUS

if AIRFLOW_V_3_2_PLUS:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.exceptions import (
        AirflowRescheduleException,
        AirflowSkipException,
        ParamValidationError,
        TaskDeferred,
    )
    from airflow.serialization.serialized_objects import DagSerialization
else:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowRescheduleException,
        AirflowSkipException,
        ParamValidationError,
        TaskDeferred,
    )
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization  # type: ignore[no-redef]
    from airflow.utils.module_loading import import_string  # type: ignore[no-redef]

__all__ = [
    "AirflowRescheduleException",
    "AirflowSkipException",
    "DagBag",
    "DagSerialization",
    "ParamValidationError",
    "TaskDeferred",
    "import_string",
]
