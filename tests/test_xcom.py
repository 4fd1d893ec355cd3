"""The XCom contract: the submission summary the transfer reads back, the completed detail, and the docs' table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from airflow_provider_evolink import xcom
from airflow_provider_evolink.models import Usage, credit_usage, parse_request
from airflow_provider_evolink.xcom import PROMPT_CHARS, XCOM_SUBMISSION, find_submission, submission_summary


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
    summary = submission_summary(request, "task-unified-1", usage)

    assert summary == {
        "evolink_task_id": "task-unified-1",
        "model": "kling-v3-motion-control",
        "prompt": "dance",
        "duration": None,
        "quality": "1080p",
        "usage": usage,
    }


def test_a_long_prompt_is_cut_to_prompt_chars() -> None:
    request = parse_request({"model": "some-new-model", "prompt": "word " * 100, "duration": 4})
    summary = submission_summary(request, "task-unified-2", credit_usage(None))

    assert len(summary["prompt"]) == PROMPT_CHARS
    assert summary["prompt"].endswith("…")
    assert (summary["duration"], summary["quality"], summary["usage"]["credits"]) == (4, None, None)


def test_find_submission_picks_the_summary_of_its_own_evolink_task_among_map_indexes() -> None:
    mine = {"evolink_task_id": "task-b", "prompt": "b"}
    ti = PullingTaskInstance({"generate": [{"evolink_task_id": "task-a"}, mine, None], "build_requests": [None]})

    assert find_submission(ti, {"generate", "build_requests"}, "task-b") == mine
    assert ti.pulls == [(["build_requests", "generate"], XCOM_SUBMISSION)]
    assert find_submission(ti, {"generate"}, "task-z") == {}
    assert find_submission(ti, set(), "task-b") == {}


def _docs_xcom_keys() -> set[str]:
    """The keys of the "What the tasks put in XCom" table of ``docs/xcom.md`` (its second column)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "xcom.md").read_text(encoding="utf-8")
    section = text.split("# What the tasks put in XCom", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[2] for line in section.splitlines() if line.startswith("| `")]
    return {key for cell in rows for key in re.findall(r"`([a-z_]+)`", cell)}


def test_the_docs_xcom_table_lists_exactly_the_keys_of_the_xcom_module() -> None:
    assert _docs_xcom_keys() == {*xcom.KEYS, "return_value"}


def test_each_xcom_key_is_defined_once_in_the_package() -> None:
    package = Path(xcom.__file__).parent
    for key in xcom.KEYS:
        defining = [
            path.relative_to(package).as_posix()
            for path in package.rglob("*.py")
            if re.search(rf'^\w+ = "{key}"$', path.read_text(encoding="utf-8"), re.MULTILINE)
        ]
        assert defining == ["xcom.py"], key
