"""Reading many tasks with the hook (``hooks/batch.py``): ``read_tasks``/``aread_tasks`` and ``list_tasks`` against the
emulator over HTTP, respx for the precise answers a real service might give."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_evolink.emulator import EvoLinkEmulator
from airflow_provider_evolink.exceptions import EvoLinkConfigError, EvoLinkNotFoundError, EvoLinkResponseError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.models.task_list import TaskList

BASE = "https://api.evolink.test"
API_KEY = "sk-SENTINEL-batch-never-print-me"
A, B = "task-unified-1757169743-aaaaaaaa", "task-unified-1757169743-bbbbbbbb"
O3_REQUEST = {"model": "kling-o3-reference-to-video", "prompt": "a red fox in the snow", "duration": 5}


@pytest.fixture
def hook(evolink_connection: Callable[..., str]) -> Iterator[EvoLinkHook]:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "evolink_batch_test", max_retries=0))
    yield hook
    hook.close()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def emulator_hook(emulator: EvoLinkEmulator) -> Iterator[EvoLinkHook]:
    hook = EvoLinkHook()
    yield hook
    hook.close()


# ---------------------------------------------------------------------------------------- the emulator
def test_read_tasks_answers_the_tasks_found_keyed_by_id(emulator_hook: EvoLinkHook) -> None:
    ids = [emulator_hook.create_video_generation(O3_REQUEST).id for _ in range(2)]

    found = emulator_hook.read_tasks([*ids, "task-unified-1700000000-unknown0"])

    assert sorted(found) == sorted(ids)
    assert all(detail.status.value == "completed" and detail.results for detail in found.values())


async def test_aread_tasks_reads_through_the_shared_client(emulator: EvoLinkEmulator) -> None:
    setup = EvoLinkHook()
    ids = [setup.create_video_generation(O3_REQUEST).id for _ in range(3)]
    setup.close()
    hook = EvoLinkHook()
    try:
        found = await hook.aread_tasks(ids)
    finally:
        await hook.aclose()

    assert sorted(found) == sorted(ids)


def test_list_tasks_reads_a_typed_page(emulator_hook: EvoLinkHook) -> None:
    emulator_hook.create_video_generation(O3_REQUEST)

    page = emulator_hook.list_tasks(status="completed", task_type="video", page_size=5)

    assert isinstance(page, TaskList)
    assert page.page_size == 5
    assert page.total >= 1
    assert len(page.data) <= 5
    assert all(item.status == "completed" and item.has_results for item in page.data)


# ---------------------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("ids", "rule"),
    [
        ([], "1 to 50"),
        ([f"task-unified-{n}" for n in range(51)], "1 to 50"),
        (["task-unified-1", " "], "non-empty strings"),
        ("task-unified-1", "a list of task IDs"),
    ],
)
def test_read_tasks_refuses_bad_ids_before_any_request(
    hook: EvoLinkHook, api: respx.MockRouter, ids: Any, rule: str
) -> None:
    with pytest.raises(EvoLinkConfigError, match=f"evolink_task_ids must .*{rule}"):
        hook.read_tasks(ids)
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"status": "done"}, "status"),
        ({"task_type": "gif"}, "task_type"),
        ({"page": 0}, "page"),
        ({"model": ""}, "model"),
    ],
)
def test_list_tasks_refuses_bad_filters_before_any_request(
    hook: EvoLinkHook, api: respx.MockRouter, arguments: dict[str, Any], named: str
) -> None:
    with pytest.raises(EvoLinkConfigError, match=f"^{named} must"):
        hook.list_tasks(**arguments)
    assert api.calls.call_count == 0


def test_a_bad_batch_reads_extra_is_refused_naming_it(evolink_connection: Callable[..., str]) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "bad_batch", batch_reads="sometimes"))
    with pytest.raises(EvoLinkConfigError, match="extra 'batch_reads' must be one of auto, on, off, got 'sometimes'"):
        hook.settings  # noqa: B018


# ---------------------------------------------------------------------------------------- precise answers
def test_the_batch_body_names_each_id_once(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    route = api.post("/v1/tasks/batch").respond(json={"data": []})

    hook.read_tasks([A, B, A])

    assert json.loads(route.calls.last.request.content) == {"task_ids": [A, B]}
    assert route.calls.last.request.headers["content-type"] == "application/json"


def test_an_invalid_item_is_left_out_so_its_task_is_read_alone(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.post("/v1/tasks/batch").respond(
        json={"data": [{"id": A, "status": "completed"}, {"id": B, "status": "processing", "progress": 20}]}
    )

    found = hook.read_tasks([A, B])

    assert list(found) == [B]  # A is "completed" without results: not a valid detail


def test_a_task_nobody_asked_for_is_ignored(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.post("/v1/tasks/batch").respond(json={"data": [{"id": B, "status": "processing"}]})

    assert hook.read_tasks([A]) == {}


def test_an_answer_of_another_shape_is_a_response_error(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.post("/v1/tasks/batch").respond(json={"tasks": [{"id": A, "status": "processing"}]})

    with pytest.raises(EvoLinkResponseError, match="data"):
        hook.read_tasks([A])


def test_a_service_without_the_batch_read_answers_not_found(hook: EvoLinkHook, api: respx.MockRouter) -> None:
    api.post("/v1/tasks/batch").mock(return_value=httpx.Response(404, html="<h1>Not Found</h1>"))

    with pytest.raises(EvoLinkNotFoundError):
        hook.read_tasks([A])


@pytest.mark.parametrize(
    ("value", "resolved"), [("on", "on"), ("off", "off"), ("auto", "auto"), ("", "auto"), (None, "auto")]
)
def test_the_batch_reads_extra_defaults_to_auto(
    evolink_connection: Callable[..., str], value: str | None, resolved: str
) -> None:
    hook = EvoLinkHook(evolink_conn_id=evolink_connection(BASE, API_KEY, "batch_extra", batch_reads=value))
    assert hook.settings.batch_reads == resolved
