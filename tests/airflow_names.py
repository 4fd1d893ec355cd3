"""Airflow names only the tests use that moved between Airflow 3.1 and 3.4 (the package's own are in ``compat``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_evolink.compat import AIRFLOW_V_3_2_PLUS, AIRFLOW_V_3_4_PLUS

if AIRFLOW_V_3_2_PLUS:
    from airflow._shared.plugins_manager import is_valid_plugin
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import lineage
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
    from airflow.lineage import hook as lineage  # type: ignore[no-redef]
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
    "every_try",
    "import_string",
    "is_valid_plugin",
    "lineage",
    "rendered_fields",
    "reset_plugins",
    "trigger_row_kwargs",
]


if not AIRFLOW_V_3_2_PLUS:

    def is_valid_plugin(plugin_obj: Any) -> bool:  # type: ignore[misc]
        """Airflow 3.1's check, against no loaded plugins (it also refuses one already loaded)."""
        from unittest import mock

        from airflow import plugins_manager

        with mock.patch.object(plugins_manager, "plugins", []):
            return bool(plugins_manager.is_valid_plugin(plugin_obj))


def reset_plugins() -> None:
    """Make the next reader load Airflow's plugins again (3.2+ caches them in functions, 3.1 in module globals)."""
    from airflow import plugins_manager

    if AIRFLOW_V_3_2_PLUS:
        for cached in ("_get_plugins", "_get_ui_plugins", "get_fastapi_plugins", "get_flask_plugins"):
            getattr(plugins_manager, cached).cache_clear()
        return
    for loaded in ("plugins", "fastapi_apps", "fastapi_root_middlewares", "external_views", "react_apps"):
        setattr(plugins_manager, loaded, None)
    # 3.1 skips a plugin whose name it registered before: the entry-point plugin would not load again.
    plugins_manager.loaded_plugins.clear()


def trigger_row_kwargs(encrypted_kwargs: str) -> dict[str, Any]:
    """A trigger row's kwargs as the triggerer decodes them (Airflow 3.1 decodes them while decrypting)."""
    from airflow.models.trigger import Trigger

    kwargs = Trigger._decrypt_kwargs(encrypted_kwargs)
    if not AIRFLOW_V_3_2_PLUS:
        return kwargs
    from airflow.serialization.decoders import smart_decode_trigger_kwargs

    return {key: smart_decode_trigger_kwargs(value) for key, value in kwargs.items()}


def every_try(session: Any, dag_id: str, run_id: str) -> list[Any]:
    """Every try of the task instances of one run, as ORM rows: from Airflow 3.4 the archived tries are
    ``TaskInstance`` rows the ORM hides unless asked; before it they are ``TaskInstanceHistory`` rows."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    query = select(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id)
    if AIRFLOW_V_3_4_PLUS:
        return list(session.scalars(query.execution_options(include_all_attempts=True)))
    from airflow.models.taskinstancehistory import TaskInstanceHistory

    return [
        *session.scalars(query),
        *session.scalars(select(TaskInstanceHistory).filter_by(dag_id=dag_id, run_id=run_id)),
    ]


def rendered_fields(session: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """``{task_id: rendered template fields}`` of one run's task instances (from Airflow 3.4 the rows belong to a
    try's task instance ID, the latest try's here; before it they carry the task's coordinates)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    if AIRFLOW_V_3_4_PLUS:
        query = select(TaskInstance.task_id, Rendered.rendered_fields).join(
            TaskInstance, Rendered.task_instance_id == TaskInstance.id
        )
        query = query.where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    else:
        query = select(Rendered.task_id, Rendered.rendered_fields).filter_by(dag_id=dag_id, run_id=run_id)
    return {task_id: fields for task_id, fields in session.execute(query)}
