"""Where the submission is kept on each Airflow line, and what a retry does when nothing can keep it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of

from airflow_provider_evolink import state_store
from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
from airflow_provider_evolink.state_store import StateStoreUnavailable, submission_store


def _o3_operator(**kwargs: Any) -> EvoLinkGenerateVideoOperator:
    request = {"model": "kling-o3-reference-to-video", "prompt": "a fox in the snow", "duration": 5}
    return EvoLinkGenerateVideoOperator(task_id="generate", request=request, **kwargs)


def test_the_context_task_state_store_is_the_store_whenever_airflow_provides_one() -> None:
    store = FakeTaskStateStore()

    assert submission_store(context_of(FakeTaskInstance(), store)) is store


def test_below_airflow_3_3_a_configured_folder_keeps_one_json_file_per_task_instance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(state_store, "AIRFLOW_V_3_3_PLUS", False)
    monkeypatch.setenv("AIRFLOW__EVOLINK__STATE_STORE_PATH", f"file://{tmp_path}")
    context = context_of(FakeTaskInstance(task_id="generate"), None)

    submission_store(context).set("evolink_task_id", "task-unified-1")  # type: ignore[union-attr]
    (stored,) = tmp_path.glob("*.json")
    again = submission_store(context)  # a later try, in another process

    assert again is not None
    assert again.get("evolink_task_id") == "task-unified-1"
    assert json.loads(stored.read_text())["task_instance"]["task_id"] == "generate"
    again.clear()
    assert not stored.exists()


def test_below_airflow_3_3_each_task_instance_has_its_own_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(state_store, "AIRFLOW_V_3_3_PLUS", False)
    monkeypatch.setenv("AIRFLOW__EVOLINK__STATE_STORE_PATH", str(tmp_path))

    submission_store(context_of(FakeTaskInstance(map_index=0), None)).set("key", 1)  # type: ignore[union-attr]
    other = submission_store(context_of(FakeTaskInstance(map_index=1), None))

    assert other is not None
    assert other.get("key") is None


def test_an_unreadable_store_file_makes_the_store_unavailable_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(state_store, "AIRFLOW_V_3_3_PLUS", False)
    monkeypatch.setenv("AIRFLOW__EVOLINK__STATE_STORE_PATH", str(tmp_path))
    context = context_of(FakeTaskInstance(), None)
    submission_store(context).set("key", 1)  # type: ignore[union-attr]
    next(tmp_path.glob("*.json")).write_text("{not json")

    with pytest.raises(StateStoreUnavailable, match=r"\.json cannot be read"):
        submission_store(context)


@pytest.mark.usefixtures("no_submission_store")
def test_a_retry_without_a_usable_store_refuses_to_submit_again_naming_the_setting(emulator: Any) -> None:
    retry = FakeTaskInstance(max_tries=1, try_number=2)  # retries=1: try 2 follows try 1 of the same sequence
    posts_before = len([r for r in emulator.requests() if r["method"] == "POST"])

    with pytest.raises(AirflowFailException, match=r"not submitting a second one.*\[evolink\] state_store_path"):
        _o3_operator(retries=1).execute(context_of(retry, None))

    assert len([r for r in emulator.requests() if r["method"] == "POST"]) == posts_before


@pytest.mark.usefixtures("no_submission_store")
def test_a_first_try_without_a_store_submits_and_says_crash_recovery_is_off(emulator: Any) -> None:
    evolink_task_id = _o3_operator(retries=1).execute(context_of(FakeTaskInstance(max_tries=1), None))

    assert evolink_task_id.startswith("task-unified-")


class _Variables:
    """Airflow 3.1/3.2's ``Variable`` as a dict; ``lose_writes`` makes ``set`` log-and-return like theirs on failure."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.lose_writes = False

    def get(self, key: str, default: Any = None, deserialize_json: bool = False) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        if not self.lose_writes:
            self.values[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> _Variables:
    import airflow.sdk

    fake = _Variables()
    monkeypatch.setattr(state_store, "AIRFLOW_V_3_3_PLUS", False)
    monkeypatch.delenv("AIRFLOW__EVOLINK__STATE_STORE_PATH", raising=False)
    monkeypatch.setattr(airflow.sdk, "Variable", fake)
    return fake


def test_below_airflow_3_3_without_a_folder_each_task_instance_keeps_one_variable(variables: _Variables) -> None:
    context = context_of(FakeTaskInstance(task_id="generate"), None)

    submission_store(context).set("evolink_task_id", "task-unified-1")  # type: ignore[union-attr]
    again = submission_store(context)

    assert again is not None
    assert again.get("evolink_task_id") == "task-unified-1"
    ((key, value),) = variables.values.items()
    assert key.startswith("evolink_submission_")
    assert json.loads(value)["task_instance"]["task_id"] == "generate"


def test_a_variable_write_that_airflow_only_logged_fails_before_anything_is_sent(variables: _Variables) -> None:
    store = submission_store(context_of(FakeTaskInstance(), None))
    variables.lose_writes = True

    with pytest.raises(StateStoreUnavailable, match="could not be written"):
        store.set("evolink_submission", {"idempotency_key": "k"})  # type: ignore[union-attr]
