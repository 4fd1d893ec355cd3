"""The submission summary: what the generate task records for the transfer's Asset events, and how it is found."""

from __future__ import annotations

from typing import Any

from airflow_provider_evolink.models import Usage, credit_usage, parse_request
from airflow_provider_evolink.submission import PROMPT_CHARS, XCOM_SUBMISSION, find_submission, summarize


class PullingTaskInstance:
    """``ti.xcom_pull`` over fixed values: ``{task_id: [value per map index]}``."""

    def __init__(self, values: dict[str, list[Any]]) -> None:
        self.values = values
        self.pulls: list[tuple[list[str], str]] = []

    def xcom_pull(self, *, task_ids: list[str], key: str) -> list[Any]:
        self.pulls.append((task_ids, key))
        return [value for task_id in task_ids for value in self.values.get(task_id, [None])]


def test_motion_control_has_no_duration_and_a_short_prompt_is_kept_whole() -> None:
    request = parse_request(
        {
            "model": "kling-v3-motion-control",
            "prompt": "dance",
            "image_urls": ["https://cdn.example.com/a.jpg?sig=secret"],
            "video_urls": ["https://cdn.example.com/b.mp4?sig=secret"],
            "quality": "1080p",
            "model_params": {"character_orientation": "image"},
        }
    )
    usage = credit_usage(Usage(credits_reserved=54.4, billing_rule="per_second"))
    summary = summarize(request, "task-unified-1", usage)

    assert summary == {
        "evolink_task_id": "task-unified-1",
        "model": "kling-v3-motion-control",
        "prompt": "dance",
        "duration": None,
        "resolution": "1080p",
        "usage": usage,
    }


def test_a_long_prompt_is_cut_to_prompt_chars() -> None:
    request = parse_request({"model": "some-new-model", "prompt": "word " * 100, "duration": 4})
    summary = summarize(request, "task-unified-2", credit_usage(None))

    assert len(summary["prompt"]) == PROMPT_CHARS
    assert summary["prompt"].endswith("…")
    assert (summary["duration"], summary["resolution"], summary["usage"]["credits"]) == (4, None, None)


def test_find_submission_picks_the_summary_of_its_own_evolink_task_among_map_indexes() -> None:
    mine = {"evolink_task_id": "task-b", "prompt": "b"}
    ti = PullingTaskInstance({"generate": [{"evolink_task_id": "task-a"}, mine, None], "build_requests": [None]})

    assert find_submission(ti, {"generate", "build_requests"}, "task-b") == mine
    assert ti.pulls == [(["build_requests", "generate"], XCOM_SUBMISSION)]
    assert find_submission(ti, {"generate"}, "task-z") == {}
    assert find_submission(ti, set(), "task-b") == {}
