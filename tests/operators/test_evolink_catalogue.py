"""EvoLinkGenerateVideoOperator with the typed catalogue models: each documented example is sent to the emulator,
``max_credits`` guards Seedance before paying, an unpriced model fails closed unless given a price, and unknown
model ids still submit without Kling's prompt limit."""

from __future__ import annotations

from typing import Any

import pytest
from catalogue_cases import examples
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of

from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.emulator import EvoLinkEmulator
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

MODELS = sorted(examples("http://samples"))


def _run(request: dict[str, Any], **kwargs: Any) -> str:
    operator = EvoLinkGenerateVideoOperator(task_id="generate", request=request, poll_interval=0.05, **kwargs)
    evolink_task_id: str = operator.execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))
    return evolink_task_id


def _api_calls(emu: Any, since: int) -> list[dict[str, Any]]:
    """The API requests since entry ``since`` (not the emulator's own fetches of earlier tasks' sample inputs)."""
    return [e for e in emu.requests()[since:] if e["path"].startswith("/v1/")]


def _creates(emu: Any, since: int) -> list[dict[str, Any]]:
    return [e for e in emu.requests()[since:] if e["method"] == "POST" and e["path"] == "/v1/videos/generations"]


@pytest.mark.parametrize("model", MODELS)
def test_each_documented_example_is_sent_and_accepted(emulator: Any, model: str) -> None:
    since = len(emulator.requests())

    evolink_task_id = _run(examples(f"{emulator.base_url}/samples")[model])

    (create,) = _creates(emulator, since)
    assert create["status"] == 200
    assert evolink_task_id.startswith("task-unified-")


def test_max_credits_refuses_an_over_budget_seedance_request_before_paying(emulator: Any) -> None:
    since = len(emulator.requests())
    request = examples("https://cdn.example.com")["seedance-2.0-text-to-video"] | {"duration": 15}

    with pytest.raises(AirflowFailException, match=r"202\.5 credits exceeds max_credits=100"):
        _run(request, max_credits=100)

    assert _api_calls(emulator, since) == []


def test_an_unpriced_model_fails_closed_and_says_how_to_pass_a_price(emulator: Any) -> None:
    since = len(emulator.requests())
    mini = examples("https://cdn.example.com")["seedance-2.0-mini-text-to-video"]

    with pytest.raises(AirflowFailException, match="credits_per_second=") as refused:
        _run(mini, max_credits=20)
    assert "remove max_credits" in str(refused.value)
    assert _api_calls(emulator, since) == []

    with pytest.raises(AirflowFailException, match="exceeds max_credits=20"):
        _run(mini, max_credits=20, credits_per_second=5)  # 5 s × 5 = 25 credits
    assert _run(mini, max_credits=20, credits_per_second=2.56).startswith("task-unified-")


def test_an_unknown_model_id_submits_a_prompt_longer_than_klings_limit(
    evolink_connection: Any,
) -> None:
    with EvoLinkEmulator(processing_seconds=0, accept_any_model=True) as emu:
        evolink_connection(emu.base_url, emu.api_key)
        request = {"model": "veo-9-generate-preview", "prompt": "a long scene " * 400, "duration": 8}

        assert len(request["prompt"]) > 2500
        assert _run(request).startswith("task-unified-")
        (create,) = _creates(emu, 0)
        assert create["status"] == 200
