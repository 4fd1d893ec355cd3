"""The emulator's reads of many tasks (``emulator/task_reads.py``): ``POST /v1/tasks/batch`` and ``GET /v1/tasks``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from airflow_provider_evolink.emulator import EvoLinkEmulator

UNKNOWN = "task-unified-1700000000-unknown0"


def _create(client: httpx.Client, body: dict[str, Any], count: int) -> list[str]:
    return [client.post("/v1/videos/generations", json=body).json()["id"] for _ in range(count)]


def test_the_batch_answers_each_known_task_as_a_single_read_would_and_leaves_unknown_ids_out(
    api: httpx.Client,
    o3_body: Callable[..., dict[str, Any]],
    response_schemas: dict[str, Draft202012Validator],
    emulator: EvoLinkEmulator,
) -> None:
    ids = _create(api, o3_body(), 3)
    emulator.clear_requests()

    answer = api.post("/v1/tasks/batch", json={"task_ids": [*ids, UNKNOWN, ids[0]]})

    assert answer.status_code == 200
    data = answer.json()["data"]
    assert [item["id"] for item in data] == ids  # each once, the unknown one missing, no error
    for item in data:
        response_schemas["detail"].validate(item)
        single = api.get(f"/v1/tasks/{item['id']}").json()
        assert {k: v for k, v in single.items() if k != "results"} == {k: v for k, v in item.items() if k != "results"}
    [logged] = [r for r in emulator.requests() if r["path"] == "/v1/tasks/batch"]
    assert logged["task_id"] == ",".join(ids)


def test_the_batch_refuses_a_body_without_1_to_50_ids_and_needs_the_key(api: httpx.Client) -> None:
    for body in ({}, {"task_ids": []}, {"task_ids": "task-unified-1"}, {"task_ids": [f"t{n}" for n in range(51)]}):
        answer = api.post("/v1/tasks/batch", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["param"] == "task_ids"
    assert httpx.post(f"{api.base_url}/v1/tasks/batch", json={"task_ids": [UNKNOWN]}).status_code == 401


def test_the_batch_404_switch_answers_like_a_server_without_the_route(
    make_emulator: Callable[..., tuple[EvoLinkEmulator, httpx.Client]],
) -> None:
    emu, client = make_emulator(processing_seconds=0.0)
    emu.set_faults(rate_batch_404=1.0)

    answer = client.post("/v1/tasks/batch", json={"task_ids": [UNKNOWN]})

    assert answer.status_code == 404
    assert "error" not in answer.json()  # not EvoLink's error envelope: a missing route
    emu.set_faults(rate_batch_404=0.0)
    assert client.post("/v1/tasks/batch", json={"task_ids": [UNKNOWN]}).json() == {"data": []}


def test_the_batch_gets_the_fault_injection_of_every_api_route(
    make_emulator: Callable[..., tuple[EvoLinkEmulator, httpx.Client]],
) -> None:
    emu, client = make_emulator(processing_seconds=0.0, rate_429=1.0, retry_after_seconds=7)

    answer = client.post("/v1/tasks/batch", json={"task_ids": [UNKNOWN]})

    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    assert emu.requests()[-1]["fault"] == "429"


def test_the_task_list_filters_pages_and_summarises_newest_first(
    make_emulator: Callable[..., tuple[EvoLinkEmulator, httpx.Client]], o3_body: Callable[..., dict[str, Any]]
) -> None:
    _, client = make_emulator(processing_seconds=0.0, fetch_inputs=False)
    done = _create(client, o3_body(), 3)
    failed = _create(client, o3_body(prompt="a fox [fail:content_policy_violation]"), 1)

    everything = client.get("/v1/tasks").json()
    page = client.get("/v1/tasks", params={"status": "completed", "page": 2, "page_size": 2}).json()
    failures = client.get("/v1/tasks", params={"status": "failed", "type": "video"}).json()

    assert (everything["total"], everything["page"], everything["page_size"]) == (4, 1, 20)
    assert {item["id"] for item in everything["data"]} == set(done + failed)
    assert [item["created_at"] for item in everything["data"]] == sorted(
        (item["created_at"] for item in everything["data"]), reverse=True
    )
    assert (page["total"], len(page["data"])) == (3, 1)
    [failure] = failures["data"]
    assert failure["id"] == failed[0]
    assert (failure["has_error"], failure["has_results"], failure["credits_used"]) == (True, False, 0.0)
    assert set(everything["data"][0]) == {
        "id",
        "model",
        "type",
        "status",
        "progress",
        "created_at",
        "duration",
        "has_results",
        "result_count",
        "has_error",
        "credits_used",
    }
    assert client.get("/v1/tasks", params={"status": "done"}).status_code == 400
