"""
Every Airflow name the provider uses that differs between Airflow 3.1, 3.2, 3.3 and 3.4, in one place.

The package supports Airflow 3.1.0 → 3.3.x, and is tested on the 3.4 pre-release. Each module imports such names
from here, never from Airflow directly. Every fallback below names the Airflow version from which it is no longer
needed: when the floor reaches that version, the fallback (and its flag) goes. Checked against the site-packages of
Airflow 3.1.8, 3.2.2, 3.3.1, 3.3.2 and 3.4.0b2 (Task SDK 1.1.8, 1.2.2, 1.3.1, 1.3.2, 1.4.0b2). Names that need no
fallback, as every supported line has them: ``airflow.sdk.log.mask_secret``, ``BaseHook.aget_connection``,
``ObjectStoragePath``, ``Asset``, ``BaseOperator``, ``BaseSensorOperator``, ``BaseOperatorLink``,
``airflow.triggers.base``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

if TYPE_CHECKING:
    from airflow.sdk import Connection, ObjectStoragePath
    from airflow.sdk.lineage import HookLineageCollector

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AIRFLOW_V_3_4_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowPlugin",
    "AirflowSensorTimeout",
    "AirflowTaskTimeout",
    "TaskInstanceKey",
    "aconnection_extra",
    "conf",
    "deserialize_trigger_kwargs",
    "get_hook_lineage_collector",
    "path_conn_id",
    "serialize_trigger_kwargs",
]

_BASE_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
#: Airflow 3.2 or newer: ``airflow.sdk.conf``, the Task SDK exceptions, ``airflow.sdk.serde``, provider-info forms.
AIRFLOW_V_3_2_PLUS = Version("3.2.0") <= _BASE_VERSION
#: Airflow 3.3 or newer: ``context["task_state_store"]``, the UI's ``nav_top_level`` entries.
AIRFLOW_V_3_3_PLUS = Version("3.3.0") <= _BASE_VERSION
#: Airflow 3.3.2 or newer (Task SDK 1.3.2): ``Connection.aextra_dejson()``.
AIRFLOW_V_3_3_2_PLUS = Version("3.3.2") <= _BASE_VERSION
#: Airflow 3.4 or newer (its pre-releases included): UI plugin views take ``applies_to`` (shown only where the
#: page's record matches), and the ``dag_overview`` / ``task_overview`` destinations.
AIRFLOW_V_3_4_PLUS = Version("3.4.0") <= _BASE_VERSION

if AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowTaskTimeout,
    )
    from airflow.sdk.plugins_manager import AirflowPlugin
    from airflow.sdk.types import TaskInstanceKey
else:  # Not needed from Airflow 3.2: these names moved into the Task SDK there.
    from airflow.configuration import conf  # type: ignore[assignment,no-redef]
    from airflow.exceptions import (  # type: ignore[assignment,no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowTaskTimeout,
    )
    from airflow.models.taskinstancekey import TaskInstanceKey  # type: ignore[assignment,no-redef]
    from airflow.plugins_manager import AirflowPlugin  # type: ignore[assignment,no-redef]


def get_hook_lineage_collector() -> HookLineageCollector:
    """The hook lineage collector of the running task (imported on first use: DAG files do not pay for it)."""
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.lineage import get_hook_lineage_collector as collector
    else:  # Not needed from Airflow 3.2, where the collector moved into the Task SDK.
        from airflow.lineage.hook import get_hook_lineage_collector as collector  # type: ignore[no-redef]
    return collector()


def path_conn_id(path: ObjectStoragePath) -> str | None:
    """The connection ID an ``ObjectStoragePath`` was given (``s3://conn_id@bucket/…`` or ``conn_id=``)."""
    if AIRFLOW_V_3_2_PLUS:
        return path.conn_id
    # Not needed from Airflow 3.2, whose ObjectStoragePath has a conn_id property.
    conn_id = path.storage_options.get("conn_id")
    return conn_id if isinstance(conn_id, str) else None


def serialize_trigger_kwargs(kwargs: dict[str, Any]) -> Any:
    """Trigger kwargs encoded as Airflow encodes them into the trigger row (a JSON-able structure).

    :raises Exception: whatever Airflow's serializer raises for a value it cannot encode.
    """
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.serde import serialize

        return serialize(kwargs)
    # Not needed from Airflow 3.2, which encodes trigger rows with airflow.sdk.serde.
    from airflow.serialization.serialized_objects import BaseSerialization

    return BaseSerialization.serialize(kwargs)


def deserialize_trigger_kwargs(encoded: Any) -> Any:
    """The inverse of :func:`serialize_trigger_kwargs`, as the triggerer decodes a trigger row."""
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.serde import deserialize

        return deserialize(encoded)
    # Not needed from Airflow 3.2 (see serialize_trigger_kwargs).
    from airflow.serialization.serialized_objects import BaseSerialization

    return BaseSerialization.deserialize(encoded)


async def aconnection_extra(conn: Connection) -> dict[str, Any]:
    """A connection's extras as a dict, read without blocking the event loop (for triggers).

    Reading the extras registers them with the secrets masker, which may talk to the supervisor process.
    """
    if AIRFLOW_V_3_3_2_PLUS:
        return await conn.aextra_dejson()
    if AIRFLOW_V_3_2_PLUS:
        # Not needed from Airflow 3.3.2 (aextra_dejson): in a thread, the masker's message is bridged to the loop
        # instead of blocking it (3.3.0/3.3.1 raise DeadlockImminentError for a sync send on the loop's thread).
        return await asyncio.to_thread(lambda: conn.extra_dejson)
    # Not needed from Airflow 3.2: 3.1's triggerer refuses the masker's message on the loop's thread at once (no
    # I/O), while from another thread it would read the supervisor's channel from a second event loop.
    return conn.extra_dejson
