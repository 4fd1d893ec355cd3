"""Every connection ID of every operator and the sensor is templated, as in Airflow's own providers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of

from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.operators.files import EvoLinkUploadFileOperator
from airflow_provider_evolink.sensors.evolink import EvoLinkTaskSensor
from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a red fox in the snow", "duration": 5}
#: Each class with the arguments it needs besides its connection IDs.
TASKS: dict[type, dict[str, Any]] = {
    EvoLinkGenerateVideoOperator: {"request": REQUEST},
    EvoLinkUploadFileOperator: {"source": "/tmp/reference.png"},
    EvoLinkTaskSensor: {"evolink_task_id": "task-unified-1"},
    EvoLinkToStorageOperator: {"evolink_task_id": "task-unified-1", "destination": "s3://bucket/videos/"},
}


@pytest.mark.parametrize("cls", list(TASKS), ids=lambda cls: cls.__name__)
def test_every_conn_id_argument_is_a_template_field(cls: type) -> None:
    conn_ids = {name for name in inspect.signature(cls.__init__).parameters if name.endswith("conn_id")}

    assert "evolink_conn_id" in conn_ids
    assert conn_ids <= set(cls.template_fields)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", list(TASKS), ids=lambda cls: cls.__name__)
def test_a_templated_evolink_conn_id_renders_from_params(cls: type) -> None:
    task = cls(task_id="task", evolink_conn_id="evolink_{{ params.account }}", **TASKS[cls])

    task.render_template_fields({"params": {"account": "studio"}})

    assert task.evolink_conn_id == "evolink_studio"


def test_a_templated_storage_conn_id_renders_from_params() -> None:
    task = EvoLinkToStorageOperator(
        task_id="save", storage_conn_id="aws_{{ params.account }}", **TASKS[EvoLinkToStorageOperator]
    )

    task.render_template_fields({"params": {"account": "studio"}})

    assert task.storage_conn_id == "aws_studio"


def test_a_generation_submits_through_the_connection_its_template_names(
    emulator: Any, evolink_connection: Callable[..., str]
) -> None:
    evolink_connection(emulator.base_url, emulator.api_key, "evolink_studio")
    task = EvoLinkGenerateVideoOperator(
        task_id="generate", request={**REQUEST, "prompt": "a heron"}, evolink_conn_id="evolink_{{ params.account }}"
    )
    task.render_template_fields({"params": {"account": "studio"}})
    before = len(emulator.requests())

    evolink_task_id = task.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    assert evolink_task_id.startswith("task-unified-")
    assert [entry["method"] for entry in emulator.requests()[before:]] == ["POST"]
