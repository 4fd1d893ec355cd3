"""The emulator's memory: tasks, their time-derived status, credits, idempotency keys and signed result links.

Nothing runs in the background: a task's status is computed from the clock whenever it is read
(``pending`` for the first quarter of its render time, then ``processing``, then ``completed`` or ``failed``),
and a failed task's refund counts from the moment it fails. Render times may be drawn per task from a spread
around ``processing_seconds``; ``task_info.estimated_time`` may be right or wrong by a factor; progress may rise
linearly, stay at 0 until the end, or jump in quarters (:data:`PROGRESS_MODES`): the shapes the read pacing of
the provider and its benchmark have to cope with.

Sources: the create and task-detail shapes of ``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml``;
pricing, refunds and idempotency from ``airflow_provider_evolink/api_reference/evolink-api.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import string
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from .price_list import PriceBook
from .schemas import DEFAULT_DURATION, catalogue

#: Price per second of a model the emulator does not know (``accept_any_model``), or at a quality without a published
#: price (O3's ``4k``, Seedance's ``1080p``/``4k``: billed like this).
FLAT_PRICE = 8.1
PENDING_FRACTION = 0.25  # of the processing time spent ``pending`` before ``processing``
RESULT_NAME = "0.mp4"
#: How ``progress`` moves while a task is ``processing``: its share of the render time, 0 until done, or the
#: share rounded down to a quarter.
PROGRESS_MODES = ("linear", "stuck", "jumps")

_MARKER = re.compile(r"\[fail(-once)?:([A-Za-z0-9_.-]+)\]")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Task:
    """One video generation task.

    :ivar created_at: creation time (epoch seconds); ``done_at`` when it completes or fails.
    :ivar duration: output length in seconds; ``aspect_ratio`` its shape, ``quality`` its resolution tier (``480p`` …
        ``4k``); ``audio``: whether it has a sound track.
    :ivar credits: credits charged at creation (refunded if the task fails).
    :ivar fail_code: the ``error.code`` it fails with (a prompt marker, or an input it could not use), or
        ``None`` to complete; ``fail_message`` says why.
    :ivar progress_mode: one of :data:`PROGRESS_MODES`.
    :ivar videos: how many videos the task renders (``n`` of models that make several, e.g. Veo 3.1; else 1).
    """

    id: str
    model: str
    created_at: float
    done_at: float
    duration: int
    aspect_ratio: str
    credits: float
    audio: bool
    quality: str
    fail_code: str | None
    fail_message: str | None = None
    progress_mode: str = "linear"
    videos: int = 1

    @property
    def result_names(self) -> tuple[str, ...]:
        """The file names of its results: ``0.mp4``, ``1.mp4`` … one per video."""
        return tuple(f"{index}.mp4" for index in range(self.videos))

    def status(self, now: float) -> tuple[str, int]:
        """``(status, progress)`` at ``now``: pending → processing (progress as ``progress_mode`` says) →
        completed/failed."""
        if now >= self.done_at:
            return ("failed" if self.fail_code else "completed"), 100
        elapsed = (now - self.created_at) / (self.done_at - self.created_at)
        if elapsed < PENDING_FRACTION:
            return "pending", 0
        if self.progress_mode == "stuck":
            return "processing", 0
        if self.progress_mode == "jumps":
            return "processing", int(elapsed * 4) * 25
        return "processing", min(max(int(elapsed * 100), 1), 99)

    def creation_json(self, estimated_time: int) -> dict[str, Any]:
        """The ``POST /v1/videos/generations`` answer (``VideoGenerationResponse``)."""
        return {
            "created": int(self.created_at),
            "id": self.id,
            "model": self.model,
            "object": "video.generation.task",
            "progress": 0,
            "status": "pending",
            "task_info": {"can_cancel": True, "estimated_time": estimated_time, "video_duration": self.duration},
            "type": "video",
            "usage": {"billing_rule": "per_second", "credits_reserved": self.credits, "user_group": "default"},
        }

    def detail_json(self, now: float, results: list[str]) -> dict[str, Any]:
        """The ``GET /v1/tasks/{id}`` answer (``TaskDetailResponse``): ``results`` only once completed,
        ``error`` only once failed."""
        status, progress = self.status(now)
        detail: dict[str, Any] = {
            "created": int(self.created_at),
            "id": self.id,
            "model": self.model,
            "object": "video.generation.task",
            "progress": progress,
            "status": status,
            "task_info": {"can_cancel": status in ("pending", "processing"), "video_duration": self.duration},
            "type": "video",
        }
        if status == "completed":
            detail["results"] = results
        elif status == "failed":
            detail["error"] = {
                "code": self.fail_code,
                "message": self.fail_message
                or f"Generation failed: {self.fail_code} (asked for by a [fail] marker in the prompt).",
                "type": "task_error",
            }
        return detail


class TaskStore:
    """Tasks, credit balance, idempotency keys and result-link signing of one emulator.

    Used from the server's event loop only (reads from other threads see consistent snapshots).

    :param processing_seconds: time from creation to completion (0: done at the first read); the median when
        ``processing_spread`` > 0.
    :param credits: starting balance, in credits.
    :param result_ttl_seconds: how long result links stay valid after completion, in seconds.
    :param reference_video_seconds: the length motion control outputs (and bills): its reference video's.
    :param processing_spread: each task renders for ``processing_seconds`` × e^N(0, spread) (log-normal, as
        render times are skewed); 0: every task takes ``processing_seconds``.
    :param estimate_factor: ``task_info.estimated_time`` is ``processing_seconds`` × this: 1 is accurate,
        10/3 makes tasks finish at 30 % of their estimate, 1/3 at 300 %.
    :param progress_mode: one of :data:`PROGRESS_MODES`.
    :param seed: seed of the render-time draws.
    :param prices: the per-second prices its tasks reserve at (its price list serves the same book); the
        catalogue's by default.
    """

    def __init__(
        self,
        *,
        processing_seconds: float,
        credits: float,
        result_ttl_seconds: float,
        reference_video_seconds: int,
        processing_spread: float = 0.0,
        estimate_factor: float = 1.0,
        progress_mode: str = "linear",
        seed: int | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        if not processing_spread >= 0 or not estimate_factor > 0 or progress_mode not in PROGRESS_MODES:
            raise ValueError(
                "processing_spread must be >= 0, estimate_factor > 0 and progress_mode one of "
                f"{', '.join(PROGRESS_MODES)}; got {processing_spread!r}, {estimate_factor!r}, {progress_mode!r}"
            )
        self.processing_seconds = processing_seconds
        self.processing_spread = processing_spread
        self.estimate_factor = estimate_factor
        self.progress_mode = progress_mode
        self._rng = random.Random(seed)
        self.initial_credits = credits
        self.prices = prices if prices is not None else PriceBook()
        self.result_ttl_seconds = result_ttl_seconds
        self.reference_video_seconds = reference_video_seconds
        self._tasks: dict[str, Task] = {}
        self._charged = 0.0
        self._failing: list[Task] = []  # tasks that will fail: refunded once they have
        self._fail_once_prompts: set[str] = set()
        self._idempotency: dict[str, tuple[str, str]] = {}  # key -> (body fingerprint, task id)
        self._input_checks: dict[str, asyncio.Task[tuple[str, str] | None]] = {}  # task id -> running check
        self._secret = secrets.token_bytes(16)

    # ------------------------------------------------------------------------------------------- tasks
    def get(self, task_id: str) -> Task | None:
        """The task with this id, if any."""
        return self._tasks.get(task_id)

    def tasks(self) -> list[Task]:
        """Every task, oldest first."""
        return list(self._tasks.values())

    def quote(self, body: dict[str, Any]) -> tuple[float, int]:
        """``(credits, output seconds)`` of a valid create request, from the per-second prices of
        ``api_reference/catalogue.json`` as :attr:`prices` has them (its price list shows the same).

        Output seconds: ``duration`` (the model's default when omitted), or the reference video's length for a
        model whose output follows its input (motion control, video edit).
        Billed: rate(quality, sound) × max(seconds, the model's minimum); with a Seedance reference video
        (reference rate) the input seconds too, at least the output's; × 1.1 with ``content_filter`` false. A model
        the catalogue does not type (``accept_any_model``): a flat 8.1 credits/s × its ``duration`` (default 5 s).
        """
        entry = catalogue().get(body["model"])
        duration = body.get("duration")  # validated for typed models; anything under accept_any_model
        seconds: int = DEFAULT_DURATION
        if entry is not None and entry["duration"] is None:  # the output follows its input video
            seconds = self.reference_video_seconds
        elif isinstance(duration, int) and not isinstance(duration, bool) and duration > 0:
            seconds = duration
        elif entry is not None:
            seconds = entry["duration"]["default"]
        price = self.prices.price(body["model"]) or {}
        quality = body.get("quality") or (entry or {}).get("quality", {}).get("default", "720p")
        billed = max(seconds, price.get("minimum_seconds", 0))
        rates = price.get("credits", {})
        if body.get("video_urls") and "with_video_input" in price:
            rates = price["with_video_input"]
            videos = self.reference_video_seconds * len(body["video_urls"])
            billed += max(min(videos, price["video_input_max_seconds"]), seconds)
        elif _sound_on(entry, body) and "with_sound" in price:
            rates = price["with_sound"]
        factor = price.get("content_filter_off", 1.0) if body.get("content_filter") is False else 1.0
        return round(rates.get(quality, FLAT_PRICE) * billed * factor, 4), seconds

    def create(self, body: dict[str, Any], now: float) -> Task:
        """Create and charge a task for a valid, affordable request; its prompt may carry a fail marker.

        ``[fail:CODE]`` fails the task with ``CODE``; ``[fail-once:CODE]`` only the first task ever created with
        exactly that prompt.
        """
        credits, seconds = self.quote(body)
        prompt = body.get("prompt")
        prompt = prompt if isinstance(prompt, str) else ""
        aspect_ratio = body.get("aspect_ratio")  # validated for typed models; anything under accept_any_model
        quality = body.get("quality") or (catalogue().get(body["model"]) or {}).get("quality", {}).get("default")
        fail_code = None
        marker = _MARKER.search(prompt)
        if marker is not None and (not marker.group(1) or prompt not in self._fail_once_prompts):
            fail_code = marker.group(2)
            if marker.group(1):
                self._fail_once_prompts.add(prompt)
        task = Task(
            id=f"task-unified-{int(now)}-{''.join(secrets.choice(_ID_ALPHABET) for _ in range(8))}",
            model=body["model"],
            created_at=now,
            done_at=now + self._render_seconds(),
            duration=seconds,
            aspect_ratio=aspect_ratio if isinstance(aspect_ratio, str) else "16:9",
            credits=credits,
            audio=_sound_on(catalogue().get(body["model"]), body),
            quality=quality if isinstance(quality, str) else "720p",
            fail_code=fail_code,
            progress_mode=self.progress_mode,
            videos=_videos(catalogue().get(body["model"]), body),
        )
        self._tasks[task.id] = task
        self._charged += credits
        if fail_code:
            self._failing.append(task)
        return task

    # ----------------------------------------------------------------------------------- input checks
    def check_inputs(self, task_id: str, check: Coroutine[Any, Any, tuple[str, str] | None]) -> None:
        """Run ``check`` (fetching the task's media inputs) in the background, as EvoLink does when a task starts.

        It answers ``None`` when every input is usable, else ``(error code, message)``: the task then fails with
        that code at the moment the check ended (and is refunded).
        """
        self._input_checks[task_id] = asyncio.get_running_loop().create_task(check)

    async def settle(self, task_id: str, now: float) -> Task | None:
        """The task as of ``now``; if its time is up while its inputs are still being checked, the check's end is
        awaited first, so a task never reports ``completed`` with an input that was not usable."""
        task = self._tasks.get(task_id)
        check = self._input_checks.get(task_id)
        if task is None or check is None or (not check.done() and now < task.done_at):
            return task
        failure = await check
        # Several reads may await one check: only the first to finish applies its outcome (one refund).
        if self._input_checks.pop(task_id, None) is not None and failure is not None:
            task = self._tasks[task_id]
            if task.fail_code is None:
                code, message = failure
                task = dataclasses.replace(task, fail_code=code, fail_message=message, done_at=min(task.done_at, now))
                self._tasks[task_id] = task
                self._failing.append(task)
        return self._tasks[task_id]

    def _render_seconds(self) -> float:
        if not self.processing_spread:
            return self.processing_seconds
        return self.processing_seconds * self._rng.lognormvariate(0.0, self.processing_spread)

    @property
    def estimated_time(self) -> int:
        """``task_info.estimated_time`` of a new task, in whole seconds: the same for every task, like a
        server's estimate of a model's render time."""
        # round() first: 9 s × 10/3 is 30.000000000000004 in binary floating point, not a reason to say 31.
        return math.ceil(round(self.processing_seconds * self.estimate_factor, 6))

    # ----------------------------------------------------------------------------------------- credits
    def used_credits(self, now: float) -> float:
        """Credits charged so far, less the refunds of tasks that have failed by ``now``."""
        refunded = sum(task.credits for task in self._failing if now >= task.done_at)
        return round(self._charged - refunded, 4)

    def remaining_credits(self, now: float) -> float:
        return round(self.initial_credits - self.used_credits(now), 4)

    # ------------------------------------------------------------------------------------- idempotency
    @staticmethod
    def fingerprint(body: dict[str, Any]) -> str:
        """A digest of a request body that ignores key order and whitespace."""
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def idempotent(self, key: str) -> tuple[str, str] | None:
        """``(body fingerprint, task id)`` first created under ``key``, if any."""
        return self._idempotency.get(key)

    def remember(self, key: str, fingerprint: str, task_id: str) -> None:
        self._idempotency[key] = (fingerprint, task_id)

    # ------------------------------------------------------------------------------------ result links
    def result_urls(self, task: Task, base_url: str) -> list[str]:
        """Signed links to a completed task's results, valid ``result_ttl_seconds`` after completion."""
        expires = math.ceil(task.done_at + self.result_ttl_seconds)
        return [
            f"{base_url}/files/{task.id}/{name}?expires={expires}&sig={self.sign(task.id, expires, name)}"
            for name in task.result_names
        ]

    def sign(self, task_id: str, expires: int | str, name: str = RESULT_NAME) -> str:
        """The signature a result link for ``task_id``'s file ``name`` expiring at ``expires`` (epoch seconds)
        carries."""
        message = f"{task_id}/{name}?expires={expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]


def _videos(entry: dict[str, Any] | None, body: dict[str, Any]) -> int:
    """How many videos a request asks for: ``n`` of a model whose catalogue entry has ``outputs``, else 1."""
    outputs = (entry or {}).get("outputs")
    if outputs is None:
        return 1
    count = body.get(outputs["field"])
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else outputs["default"]


def _sound_on(entry: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether a request asks for a sound track: its model's sound field (``generate_audio``, ``sound: "on"``…),
    else the model's default; a model the catalogue does not type: ``generate_audio`` true."""
    sound = (entry or {}).get("sound") or {"field": "generate_audio", "on": True, "default": False}
    node: Any = body
    for part in sound["field"].split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return bool(sound["default"]) if node is None else node == sound["on"]
