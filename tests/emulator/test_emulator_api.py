"""The emulator's EvoLink API over real HTTP: auth, create validation, credits, task lifecycle, idempotency."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from airflow_provider_evolink.emulator import EvoLinkEmulator

Body = Callable[..., dict[str, Any]]
StartEmulator = Callable[..., tuple[EvoLinkEmulator, httpx.Client]]
CREATE = "/v1/videos/generations"
O3 = "kling-o3-reference-to-video"
MOTION_CONTROL = "kling-v3-motion-control"


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# ------------------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize(
    ("method", "path"), [("POST", CREATE), ("GET", "/v1/tasks/task-unified-1-abcdefgh"), ("GET", "/v1/credits")]
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic c2stZW11bGF0b3I6", "Bearer"])
def test_missing_or_wrong_key_is_401_unauthorized(
    emulator: EvoLinkEmulator, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, emulator.base_url + path, headers=headers, json={"model": O3})
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"
    assert _error(response)["type"] == "authentication_error"


def test_each_configured_key_is_accepted(make_emulator: StartEmulator) -> None:
    emu, _ = make_emulator(api_key=["sk-first", "sk-second"])
    assert emu.api_key == "sk-first"
    for key in ("sk-first", "sk-second"):
        response = httpx.get(f"{emu.base_url}/v1/credits", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200


# ----------------------------------------------------------------------------------------------- create
def test_valid_o3_request_answers_like_the_docs_example(
    api: httpx.Client, o3_body: Body, response_schemas: dict[str, Draft202012Validator]
) -> None:
    before = int(time.time())
    response = api.post(CREATE, json=o3_body(quality="1080p"))

    assert response.status_code == 200
    task = response.json()
    response_schemas["create"].validate(task)
    assert re.fullmatch(r"task-unified-(\d+)-[a-z0-9]{8}", task["id"])
    assert int(task["id"].split("-")[2]) >= before
    assert task["created"] >= before
    assert task["model"] == O3
    assert task["object"] == "video.generation.task"
    assert (task["progress"], task["status"], task["type"]) == (0, "pending", "video")
    assert task["task_info"] == {"can_cancel": True, "estimated_time": 0, "video_duration": 5}
    assert task["usage"] == {"billing_rule": "per_second", "credits_reserved": 54.027, "user_group": "default"}


def test_o3_bills_at_least_three_seconds_at_the_quality_price(make_emulator: StartEmulator, o3_body: Body) -> None:
    _, client = make_emulator(processing_seconds=30)
    task = client.post(CREATE, json=o3_body(duration=3)).json()
    assert task["usage"]["credits_reserved"] == 24.3
    assert task["task_info"]["estimated_time"] == 30


def test_valid_motion_control_request_bills_the_reference_video_length(
    make_emulator: StartEmulator, motion_body: Body
) -> None:
    _, client = make_emulator(reference_video_seconds=8)
    response = client.post(CREATE, json=motion_body(quality="1080p"))

    assert response.status_code == 200
    task = response.json()
    assert task["model"] == MOTION_CONTROL
    assert task["task_info"]["video_duration"] == 8
    assert task["usage"]["credits_reserved"] == round(10.88368 * 8, 4)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"video_url": None, "video_urls": ["https://example.com/a.mp4"]}, id="video_urls-for-video_url"),
        pytest.param({"video_url": None, "video": "https://example.com/a.mp4"}, id="video-for-video_url"),
        pytest.param({"model_params": {"element_list": [{"element_id": 789012}]}}, id="integer-element_id"),
        pytest.param(
            {
                "prompt": None,
                "duration": 8,
                "model_params": {
                    "multi_shot": True,
                    "shot_type": "customize",
                    "multi_prompt": [{"index": 1, "prompt": "one", "duration": "3"}, {"prompt": "two", "duration": 5}],
                },
            },
            id="multi-shot-without-prompt",
        ),
        pytest.param(
            {"video_url": None, "duration": 15, "quality": "4k", "generate_audio": True}, id="no-video-15s-4k-audio"
        ),
        pytest.param(
            {
                "image_urls": ["https://example.com/1.jpg", "https://example.com/2.jpg"],
                "elements": [{"frontal_image_url": "https://example.com/3.jpg"}],
                "model_params": {"element_list": [{"element_id": "4"}]},
            },
            id="four-references-with-video",
        ),
        pytest.param({"callback_url": "https://hooks.example.com/evolink"}, id="public-https-callback"),
    ],
)
def test_documented_o3_alternatives_are_accepted(api: httpx.Client, o3_body: Body, changes: dict[str, Any]) -> None:
    body = {name: value for name, value in o3_body(**changes).items() if value is not None}
    response = api.post(CREATE, json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": "x" * 2501}, "prompt"),
        ({"duration": 11}, "duration"),
        ({"video_url": None, "duration": 16}, "duration"),
        ({"duration": 2}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"quality": "4k"}, "quality"),
        ({"quality": "8k"}, "quality"),
        ({"aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"generate_audio": True}, "generate_audio"),
        ({"video_url": "not a url"}, "video_url"),
        (
            {"image_urls": ["https://example.com/1.jpg"] * 4, "model_params": {"element_list": [{"element_id": "1"}]}},
            "image_urls",
        ),
        ({"model_params": {"element_list": [{"element_id": 1.5}]}}, "model_params.element_list[0].element_id"),
        (
            {"model_params": {"multi_shot": True, "multi_prompt": [{"prompt": "a", "duration": 5}]}},
            "model_params.shot_type",
        ),
        (
            {
                "model_params": {
                    "multi_shot": True,
                    "shot_type": "customize",
                    "multi_prompt": [{"prompt": "a", "duration": 1}] * 7,
                }
            },
            "model_params.multi_prompt",
        ),
        (
            {
                "model_params": {
                    "multi_shot": True,
                    "shot_type": "customize",
                    "multi_prompt": [{"prompt": "a", "duration": 3}],
                }
            },
            "model_params.multi_prompt",
        ),
        ({"callback_url": "http://hooks.example.com/evolink"}, "callback_url"),
        ({"callback_url": "https://192.168.1.10/evolink"}, "callback_url"),
        ({"callback_url": "https://localhost/evolink"}, "callback_url"),
        ({"callback_url": "https://hooks.example.com/" + "a" * 2048}, "callback_url"),
    ],
)
def test_invalid_o3_request_is_400_naming_the_field(
    api: httpx.Client, o3_body: Body, changes: dict[str, Any], param: str
) -> None:
    body = {name: value for name, value in o3_body(**changes).items() if value is not None}
    response = api.post(CREATE, json=body)

    assert response.status_code == 400
    error = _error(response)
    assert (error["code"], error["type"], error["param"]) == ("invalid_request", "invalid_request_error", param)
    assert param in error["message"]


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"image_urls": None}, "image_urls"),
        ({"image_urls": ["https://example.com/1.jpg", "https://example.com/2.jpg"]}, "image_urls"),
        ({"video_urls": []}, "video_urls"),
        ({"model_params": None}, "model_params"),
        ({"model_params": {}}, "model_params.character_orientation"),
        ({"model_params": {"character_orientation": "side"}}, "model_params.character_orientation"),
        (
            {"model_params": {"character_orientation": "image", "element_list": [{"element_id": "1"}]}},
            "model_params.character_orientation",
        ),
        (
            {
                "model_params": {
                    "character_orientation": "video",
                    "element_list": [{"element_id": "1"}, {"element_id": "2"}],
                }
            },
            "model_params.element_list",
        ),
        ({"callback_url": "https://10.0.0.8/hook"}, "callback_url"),
    ],
)
def test_invalid_motion_control_request_is_400_naming_the_field(
    api: httpx.Client, motion_body: Body, changes: dict[str, Any], param: str
) -> None:
    body = {name: value for name, value in motion_body(**changes).items() if value is not None}
    response = api.post(CREATE, json=body)

    assert response.status_code == 400
    assert _error(response)["param"] == param
    assert param in _error(response)["message"]


@pytest.mark.parametrize(
    ("content", "param"), [(b"not json", "body"), (b"[1, 2]", "body"), (b'{"prompt": "no model"}', "model")]
)
def test_unparseable_body_or_missing_model_is_400(api: httpx.Client, content: bytes, param: str) -> None:
    response = api.post(CREATE, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert _error(response)["param"] == param


def test_unknown_model_is_403_model_access_denied(api: httpx.Client) -> None:
    response = api.post(CREATE, json={"model": "veo-9", "prompt": "a cat"})
    assert response.status_code == 403
    assert _error(response)["code"] == "model_access_denied"
    assert "veo-9" in _error(response)["message"]
    assert "--accept-any-model" in _error(response)["message"]  # how to let it through
    assert _error(response)["param"] == "model"


def test_accept_any_model_takes_any_string_model_at_a_flat_price(make_emulator: StartEmulator, o3_body: Body) -> None:
    _, client = make_emulator(accept_any_model=True)
    response = client.post(CREATE, json={"model": "veo-9", "duration": 4, "anything": ["goes"]})
    assert response.status_code == 200
    assert response.json()["usage"]["credits_reserved"] == 32.4
    # Known models keep their rules.
    assert client.post(CREATE, json=o3_body(duration=11)).status_code == 400


# ---------------------------------------------------------------------------------------------- credits
def test_create_costing_more_than_the_balance_is_402_and_credits_report_the_balance(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    _, client = make_emulator(credits=50.0)
    assert client.post(CREATE, json=o3_body()).status_code == 200  # 40.5 credits

    refused = client.post(CREATE, json=o3_body())
    assert refused.status_code == 402
    assert _error(refused)["code"] == "insufficient_quota"

    credits = client.get("/v1/credits").json()
    assert credits == {
        "success": True,
        "data": {
            "user": {"remaining_credits": 9.5, "used_credits": 40.5},
            "token": {"remaining_credits": 9.5, "used_credits": 40.5, "unlimited_credits": False},
        },
    }


def test_failed_task_is_refunded_once_it_fails(make_emulator: StartEmulator, o3_body: Body) -> None:
    _, client = make_emulator(processing_seconds=1.0)
    task = client.post(CREATE, json=o3_body(prompt="[fail:service_error] a fox")).json()
    assert client.get("/v1/credits").json()["data"]["user"]["used_credits"] == 40.5

    time.sleep(1.05)
    assert client.get(f"/v1/tasks/{task['id']}").json()["status"] == "failed"
    assert client.get("/v1/credits").json()["data"]["user"] == {"remaining_credits": 1_000_000.0, "used_credits": 0.0}


# ------------------------------------------------------------------------------------------------ tasks
def test_task_id_without_the_prefix_is_400_invalid_task_id(api: httpx.Client) -> None:
    response = api.get("/v1/tasks/job-123")
    assert response.status_code == 400
    assert (_error(response)["code"], _error(response)["param"]) == ("invalid_task_id", "task_id")


def test_unknown_task_is_404_task_not_found(api: httpx.Client) -> None:
    response = api.get("/v1/tasks/task-unified-1700000000-zzzzzzzz")
    assert response.status_code == 404
    assert _error(response)["code"] == "task_not_found"


def test_task_goes_pending_then_processing_with_rising_progress_then_completed(
    make_emulator: StartEmulator, o3_body: Body, response_schemas: dict[str, Draft202012Validator]
) -> None:
    _, client = make_emulator(processing_seconds=2.0)  # pending for 0.5 s, then processing
    task_id = client.post(CREATE, json=o3_body()).json()["id"]
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["status"] != "completed":
        seen.append(client.get(f"/v1/tasks/{task_id}").json())
        time.sleep(0.1)

    for detail in seen:
        response_schemas["detail"].validate(detail)
        assert ("results" in detail) == (detail["status"] == "completed")
        assert "error" not in detail
    statuses = [detail["status"] for detail in seen]
    assert statuses[0] == "pending"
    assert "processing" in statuses
    assert statuses == sorted(statuses, key=["pending", "processing", "completed"].index)
    progress = [detail["progress"] for detail in seen]
    assert progress == sorted(progress)
    assert any(0 < value < 100 for value in progress)
    assert seen[-1]["progress"] == 100
    assert seen[-1]["task_info"]["can_cancel"] is False
    assert len(seen[-1]["results"]) == 1


def test_zero_processing_time_completes_at_the_first_read(api: httpx.Client, o3_body: Body) -> None:
    task_id = api.post(CREATE, json=o3_body()).json()["id"]
    detail = api.get(f"/v1/tasks/{task_id}").json()
    assert detail["status"] == "completed"
    assert detail["results"][0].startswith(f"{api.base_url}/files/{task_id}/0.mp4?expires=")


def test_fail_marker_fails_every_task_with_that_code(
    api: httpx.Client, o3_body: Body, response_schemas: dict[str, Draft202012Validator]
) -> None:
    for _ in range(2):
        task_id = api.post(CREATE, json=o3_body(prompt="a fox [fail:content_policy_violation]")).json()["id"]
        detail = api.get(f"/v1/tasks/{task_id}").json()
        response_schemas["detail"].validate(detail)
        assert detail["status"] == "failed"
        assert detail["error"]["code"] == "content_policy_violation"
        assert detail["error"]["type"] == "task_error"
        assert "results" not in detail


def test_fail_once_marker_fails_only_the_first_task_with_that_prompt(api: httpx.Client, o3_body: Body) -> None:
    def status(prompt: str) -> tuple[str, str | None]:
        task_id = api.post(CREATE, json=o3_body(prompt=prompt)).json()["id"]
        detail = api.get(f"/v1/tasks/{task_id}").json()
        return detail["status"], detail.get("error", {}).get("code")

    prompt = f"[fail-once:generation_timeout] fox {time.time()}"
    assert status(prompt) == ("failed", "generation_timeout")
    assert status(prompt) == ("completed", None)
    assert status(prompt + " again") == ("failed", "generation_timeout")


# ------------------------------------------------------------------------------------------ idempotency
def test_same_idempotency_key_and_body_replays_the_first_task_without_charging(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    _, client = make_emulator()
    first = client.post(CREATE, json=o3_body(), headers={"Idempotency-Key": "key-1"})
    reordered = dict(reversed(list(o3_body().items())))
    replay = client.post(CREATE, json=reordered, headers={"Idempotency-Key": "key-1"})

    assert "idempotency-replayed" not in first.headers
    assert replay.status_code == 200
    assert replay.headers["idempotency-replayed"] == "true"
    assert replay.json() == first.json()
    assert client.get("/v1/credits").json()["data"]["user"]["used_credits"] == 40.5


def test_same_idempotency_key_with_another_body_is_409_conflict(api: httpx.Client, o3_body: Body) -> None:
    key = f"key-{time.time()}"
    assert api.post(CREATE, json=o3_body(), headers={"Idempotency-Key": key}).status_code == 200
    conflict = api.post(CREATE, json=o3_body(duration=6), headers={"Idempotency-Key": key})
    assert conflict.status_code == 409
    assert _error(conflict)["code"] == "idempotency_conflict"


# ------------------------------------------------------------------------------------- request IDs, log
def test_every_response_carries_a_distinct_x_request_id(
    emulator: EvoLinkEmulator, api: httpx.Client, completed_result: Callable[..., str]
) -> None:
    responses = [
        api.get("/v1/credits"),
        httpx.get(f"{emulator.base_url}/v1/credits"),
        api.get("/v1/tasks/nope"),
        api.get("/no/such/route"),
        httpx.get(completed_result()),
        httpx.get(f"{emulator.base_url}/samples/character.jpg"),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert [response.status_code for response in responses] == [200, 401, 400, 404, 200, 200]
    assert len(set(ids)) == len(ids)
    logged = {entry["request_id"] for entry in emulator.requests()}
    assert set(ids) <= logged


def test_request_log_lists_method_path_idempotency_key_auth_status_and_task(
    make_emulator: StartEmulator, o3_body: Body
) -> None:
    emu, client = make_emulator()
    task_id = client.post(CREATE, json=o3_body(), headers={"Idempotency-Key": "k-42"}).json()["id"]
    httpx.get(f"{emu.base_url}/v1/tasks/{task_id}")

    log = emu.requests()
    assert [
        {name: entry[name] for name in ("method", "path", "idempotency_key", "auth", "status", "fault", "task_id")}
        for entry in log
    ] == [
        {
            "method": "POST",
            "path": CREATE,
            "idempotency_key": "k-42",
            "auth": True,
            "status": 200,
            "fault": None,
            "task_id": task_id,
        },
        {
            "method": "GET",
            "path": f"/v1/tasks/{task_id}",
            "idempotency_key": None,
            "auth": False,
            "status": 401,
            "fault": None,
            "task_id": None,
        },
    ]
    assert httpx.get(f"{emu.base_url}/_emulator/requests").json() == log  # control calls are not logged
    emu.clear_requests()
    assert emu.requests() == []
