"""Fault soak and 429 storm: what the provider promises, proven under injected faults (issue 8).

**Fault soak** (:func:`run_soak`): ``size`` generations through the real code paths, against an
:class:`~airflow_provider_evolink.emulator.EvoLinkEmulator` that injects 10 % 429 (``Retry-After: 1``), 5 % 500,
3 % dropped connections, 5 % slow (2 s) answers and 5 % cut-off downloads. The client's timeout is 1.5 s, so a
slow answer is a read timeout with an unknown outcome, which the hook must retry with the same idempotency key.
5 % of the prompts carry ``[fail-once:service_error]`` (the Airflow retry must resubmit and succeed), 5 %
``[fail:content_policy_violation]``.

Each generation is one simulated task instance (``retries=2``) with its own dict-backed ``task_state_store``:

    EvoLinkGenerateVideoOperator.execute ──TaskDeferred──▶ trigger.serialize() ─serde─▶ EvoLinkTaskTrigger.run()
        (worker threads)                                    (one event loop: the triggerer, one shared client)
    execute_complete(context, event) ◀──────────── serde(event) ◀──────────────────────┘
    EvoLinkToStorageOperator.execute ──▶ file://<workdir>/videos/<evolink_task_id>.mp4

An exception other than ``AirflowFailException`` re-runs the try with the same state store, as Airflow's retries
would. Required (each failure is listed under "problems"): every good generation's file saved and sha256-identical
to what the emulator serves; no duplicate submissions in the emulator's request log (one created task per
idempotency key, one per generation, two for a fail-once prompt); each content-policy generation fails in exactly
one try with the code in its message; no temporary file left behind.

**429 storm** (:func:`run_storm`): ``triggers`` real ``EvoLinkTaskTrigger`` waits in one event loop (so one
shared async client), first fault-free, then while the emulator answers ``rate_429`` of the requests with 429 for
``storm_seconds``: no trigger may fail, and the storm's requests stay within 2x the fault-free count.

    python benchmarks/soak.py [--size 200] [--concurrency 16] [--storm] [--storm-triggers 500] [--storm-seconds 30]

This harness lives beside the tests that assert it: ``tests/reliability/test_soak.py`` and
``test_rate_limit_storm.py`` call these functions at a reduced size; ``benchmarks/soak.py`` runs them at full size
and prints the figures ``benchmarks/README.md`` quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import hashlib
import importlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes import FakeTaskInstance, FakeTaskStateStore

#: The issue's fault mix (rates are fractions of requests; ``rate_cutoff`` of result downloads).
SOAK_FAULTS: dict[str, float] = {
    "rate_429": 0.10,
    "retry_after_seconds": 1,
    "rate_500": 0.05,
    "rate_drop": 0.03,
    "rate_slow": 0.05,
    "slow_seconds": 2.0,
    "rate_cutoff": 0.05,
}
FAIL_ONCE_MARKER = "[fail-once:service_error]"
POLICY_MARKER = "[fail:content_policy_violation]"
POLICY_CODE = "content_policy_violation"
#: Share of the generations carrying each marker (at least one of each once ``size`` >= 3).
MARKED_FRACTION = 0.05
_ASPECT_RATIOS = ("16:9", "9:16", "1:1")


# ------------------------------------------------------------------------------------------ environment
def _ensure_airflow_home() -> None:
    """When run standalone, use a throw-away ``AIRFLOW_HOME`` (set before anything imports Airflow)."""
    if "AIRFLOW_HOME" not in os.environ:
        home = Path(tempfile.mkdtemp(prefix="evolink-soak-home-"))
        os.environ["AIRFLOW_HOME"] = str(home)
        os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@contextlib.contextmanager
def _connection(conn_id: str, base_url: str, api_key: str, **extra: Any) -> Iterator[str]:
    """An ``AIRFLOW_CONN_<ID>`` EvoLink connection for the duration of the block."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    previous = os.environ.get(name)
    os.environ[name] = json.dumps({"conn_type": "evolink", "host": base_url, "password": api_key, "extra": extra})
    try:
        yield conn_id
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _import(classpath: str) -> Any:
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


class Triggerer:
    """One event loop on its own thread that runs triggers, as a triggerer does: they share one async client.

    :meth:`run` takes what the task would store (classpath and serde-encoded kwargs), re-creates the trigger
    from them, runs it to exhaustion and returns every event payload (a correct trigger yields exactly one).
    """

    def __init__(self, bound_seconds: float) -> None:
        self.bound_seconds = bound_seconds
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="soak-triggerer", daemon=True)
        self._thread.start()

    def run(self, classpath: str, encoded_kwargs: Any) -> list[dict[str, Any]]:
        future = asyncio.run_coroutine_threadsafe(self._run(classpath, encoded_kwargs), self.loop)
        return future.result(timeout=self.bound_seconds + 10)

    async def _run(self, classpath: str, encoded_kwargs: Any) -> list[dict[str, Any]]:
        from airflow_provider_evolink.compat import deserialize_trigger_kwargs as deserialize

        trigger = _import(classpath)(**deserialize(encoded_kwargs))
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(self.bound_seconds):
            async for event in trigger.run():
                events.append(event.payload)
        return events

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


# --------------------------------------------------------------------------------------------- soak
@dataclass
class Generation:
    """One simulated task instance of the soak and what happened to it."""

    index: int
    kind: str  # "good", "fail_once" or "policy"
    prompt: str
    request: dict[str, Any]
    store: FakeTaskStateStore = field(default_factory=FakeTaskStateStore)
    generate_tries: int = 0
    try_errors: list[str] = field(default_factory=list)  # one line per failed try, in order
    outcome: str = "not run"  # "success", "failed" (AirflowFailException) or "retries exhausted"
    final_error: str = ""
    evolink_task_id: str | None = None
    save_tries: int = 0
    stored_uris: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class SoakReport:
    """What :func:`run_soak` counted; ``problems`` lists every broken requirement (empty: all held)."""

    size: int
    seconds: float
    kinds: Counter[str]
    outcomes: Counter[str]
    generate_tries: Counter[int]
    save_tries: Counter[int]
    try_errors: Counter[str]
    requests: Counter[str]
    faults: Counter[str]
    posts: int
    created_tasks: int
    expected_created_tasks: int
    replayed_posts: int
    files_saved: int
    files_verified: int
    range_requests: int
    temporary_files: list[str]
    auth_to_file_host: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def tallies(self) -> str:
        def counts(counter: Counter[Any]) -> str:
            return ", ".join(f"{key}: {value}" for key, value in sorted(counter.items(), key=lambda kv: str(kv[0])))

        lines = [
            f"fault soak: {self.size} generations in {self.seconds:.1f} s",
            f"  generations by kind       {counts(self.kinds)}",
            f"  outcomes                  {counts(self.outcomes)}",
            f"  generate tries per task   {counts(self.generate_tries)}",
            f"  save tries per task       {counts(self.save_tries)}",
            f"  failed tries by error     {counts(self.try_errors) or 'none'}",
            f"  emulator requests         {sum(self.requests.values())} ({counts(self.requests)})",
            f"  faults injected           {counts(self.faults) or 'none'}",
            f"  POSTs                     {self.posts} ({self.replayed_posts} replayed an existing task: an earlier "
            "POST with the same key had timed out)",
            f"  EvoLink tasks created     {self.created_tasks} (expected {self.expected_created_tasks}: one per "
            "generation, two per fail-once prompt)",
            f"  files saved / verified    {self.files_saved} / {self.files_verified} (sha256 = emulator's)",
            f"  Range resumes             {self.range_requests}",
            f"  temporary files left      {len(self.temporary_files)}",
            f"  Authorization to files    {self.auth_to_file_host}",
            f"  problems                  {len(self.problems)}",
        ]
        lines += [f"    - {problem}" for problem in self.problems]
        return "\n".join(lines)


def plan_generations(size: int) -> list[Generation]:
    """``size`` generations: 5 % fail-once, 5 % content-policy (spread through the list), the rest good."""
    marked = max(1, round(size * MARKED_FRACTION)) if size >= 3 else 0
    kinds = ["good"] * size
    for number in range(marked):
        # Spread the marked ones evenly so they run among the good ones, not all at the start or the end.
        kinds[(number * size) // marked] = "fail_once"
        kinds[(number * size) // marked + 1] = "policy"
    generations = []
    for index, kind in enumerate(kinds):
        marker = {"good": "", "fail_once": f" {FAIL_ONCE_MARKER}", "policy": f" {POLICY_MARKER}"}[kind]
        prompt = f"soak {index}: a paper boat on a rainy street{marker}"
        request = {
            "model": "kling-o3-reference-to-video",
            "prompt": prompt,
            "duration": 3 + index % 3,
            "aspect_ratio": _ASPECT_RATIOS[index % len(_ASPECT_RATIOS)],
        }
        generations.append(Generation(index, kind, prompt, request))
    return generations


def run_soak(
    size: int = 200,
    *,
    workdir: Path | None = None,
    concurrency: int = 16,
    poll_interval: float = 0.2,
    processing_seconds: float = 0.5,
    retries: int = 2,
    faults: dict[str, float] | None = None,
    seed: int | None = 8,
    conn_id: str = "evolink_soak",
    client_timeout: float = 1.5,
    bound_seconds: float = 300.0,
) -> SoakReport:
    """Run the fault soak and check its requirements; see the module docstring.

    :param size: number of generations (the issue's full size is 200).
    :param workdir: where the videos folder goes (a temporary folder, removed afterwards, if ``None``).
    :param concurrency: worker threads running the sync parts (operators); triggers share one event loop.
    :param poll_interval: the trigger's seconds between status reads.
    :param processing_seconds: the emulator's time from creation to completion of a task, in seconds.
    :param retries: Airflow retries of each task (generate and save), as ``retries=`` on the operator.
    :param faults: the emulator's fault settings (default :data:`SOAK_FAULTS`).
    :param seed: seed of the emulator's fault draws (the order of requests still varies between runs).
    :param client_timeout: the connection's ``timeout`` extra, in seconds. Shorter than the slow answers (2 s),
        so a slow create is a read timeout with an unknown outcome: the hook must retry it with the same
        ``Idempotency-Key`` and get the first task back, not a second one.
    :param bound_seconds: upper bound of one trigger run and of the whole soak's waiting, in seconds.
    """
    _ensure_airflow_home()
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    generations = plan_generations(size)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="evolink-soak-")))
        folder = workdir / "videos"
        emu = stack.enter_context(
            EvoLinkEmulator(
                processing_seconds=processing_seconds, seed=seed, **(SOAK_FAULTS if faults is None else faults)
            )
        )
        stack.enter_context(_connection(conn_id, emu.base_url, emu.api_key, max_retries=3, timeout=client_timeout))
        # The emulator logs a traceback for each create whose client gave up during a slow answer (it cannot read
        # the body any more): expected here, since the client's timeout is shorter than the slow answers.
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(_drop_client_disconnects)
        stack.callback(uvicorn_log.removeFilter, _drop_client_disconnects)
        triggerer = Triggerer(bound_seconds)
        stack.callback(triggerer.close)
        _warm_up(folder)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="soak-worker") as pool:
            futures = [
                pool.submit(_run_generation, gen, triggerer, conn_id, folder.as_uri(), poll_interval, retries)
                for gen in generations
            ]
            concurrent.futures.wait(futures, timeout=bound_seconds * 3)
            for gen, future in zip(generations, futures, strict=True):
                if not future.done():
                    gen.outcome = "hung"
                elif (error := future.exception()) is not None:
                    gen.outcome = f"crashed: {type(error).__name__}: {error}"
        seconds = time.monotonic() - started
        return _soak_report(generations, emu, folder, seconds)


def _drop_client_disconnects(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ != "ClientDisconnect"


def _warm_up(folder: Path) -> None:
    """Import what the tasks use and resolve the storage once, so N threads do not queue on first imports."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.compat import serialize_trigger_kwargs as serialize
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator  # noqa: F401
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator  # noqa: F401
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger  # noqa: F401

    folder.mkdir(parents=True, exist_ok=True)
    ObjectStoragePath(folder.as_uri()).exists()
    serialize({"warm": 1.0})


def _run_generation(
    gen: Generation, triggerer: Triggerer, conn_id: str, folder_uri: str, poll_interval: float, retries: int
) -> None:
    started = time.monotonic()
    gen.outcome = _with_retries(gen, "", retries, lambda: _generate_try(gen, triggerer, conn_id, poll_interval))
    if gen.outcome == "success":
        gen.outcome = _with_retries(gen, "save ", retries, lambda: _save_try(gen, conn_id, folder_uri))
    gen.seconds = time.monotonic() - started


def _generate_try(gen: Generation, triggerer: Triggerer, conn_id: str, poll_interval: float) -> None:
    """One Airflow try of the generate task: execute, and when it defers, the trigger and execute_complete.
    Sets ``gen.evolink_task_id`` to what the task returns (its XCom ``return_value``)."""
    from airflow_names import TaskDeferred

    from airflow_provider_evolink.compat import deserialize_trigger_kwargs as deserialize
    from airflow_provider_evolink.compat import serialize_trigger_kwargs as serialize
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

    def operator() -> EvoLinkGenerateVideoOperator:
        # A new instance for each run, as each try and each resumption runs in a new worker process.
        return EvoLinkGenerateVideoOperator(
            task_id=f"generate_{gen.index}",
            request=gen.request,
            evolink_conn_id=conn_id,
            wait_for_completion=True,
            deferrable=True,
            poll_interval=poll_interval,
            timeout=triggerer.bound_seconds,
        )

    context: dict[str, Any] = {"ti": FakeTaskInstance(task_id=f"generate_{gen.index}"), "task_state_store": gen.store}
    try:
        gen.evolink_task_id = str(operator().execute(context))
    except TaskDeferred as deferred:
        # What the worker stores and the triggerer reads back: classpath and serde-encoded kwargs.
        classpath, kwargs = deferred.trigger.serialize()
        events = triggerer.run(classpath, serialize(kwargs))
        gen.events.extend(events)
        if len(events) != 1:
            raise RuntimeError(f"the trigger fired {len(events)} events instead of one") from None
        resumed = operator()
        method = getattr(resumed, deferred.method_name)
        gen.evolink_task_id = str(method(context, **(deferred.kwargs or {}), event=deserialize(serialize(events[0]))))


def _with_retries(gen: Generation, label: str, retries: int, attempt: Callable[[], None]) -> str:
    """Run ``attempt`` as Airflow runs a task with ``retries``: ``AirflowFailException`` ends it at once, any other
    exception is retried while tries are left. Each failed try is noted in ``gen.try_errors``; returns the outcome
    (``success``, ``<label>failed`` or ``<label>retries exhausted``)."""
    from airflow_provider_evolink.compat import AirflowFailException

    for try_number in range(1, retries + 2):
        if label:
            gen.save_tries = try_number
        else:
            gen.generate_tries = try_number
        try:
            attempt()
        except AirflowFailException as error:
            gen.try_errors.append(f"{label}AirflowFailException: {error}")
            gen.final_error = str(error)
            return f"{label}failed"
        except Exception as error:
            gen.try_errors.append(f"{label}{type(error).__name__}: {error}")
            gen.final_error = str(error)
            continue
        return "success"
    return f"{label}retries exhausted"


def _save_try(gen: Generation, conn_id: str, folder_uri: str) -> None:
    """One Airflow try of the save task."""
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    operator = EvoLinkToStorageOperator(
        task_id=f"save_{gen.index}",
        evolink_task_id=gen.evolink_task_id,
        destination=folder_uri,
        evolink_conn_id=conn_id,
    )
    gen.stored_uris = operator.execute({"ti": FakeTaskInstance(task_id=f"save_{gen.index}")})


def _error_kind(line: str) -> str:
    name, _, message = line.partition(": ")
    if POLICY_CODE in message:
        return f"{name} [{POLICY_CODE}]"
    if "service_error" in message:
        return f"{name} [service_error]"
    return name


def _soak_report(generations: list[Generation], emu: Any, folder: Path, seconds: float) -> SoakReport:
    from airflow_provider_evolink.never_pay_twice import STATE_SUBMISSION

    log = emu.requests()
    problems: list[str] = []

    # Submissions: which task each idempotency key created, and which keys each generation used.
    created_by_key: dict[str, set[str]] = {}
    posts = replayed = 0
    for entry in log:
        if entry["method"] == "POST" and entry["path"] == "/v1/videos/generations":
            posts += 1
            if entry["status"] == 200 and entry["task_id"]:
                created_by_key.setdefault(entry["idempotency_key"] or "<no key>", set()).add(entry["task_id"])
    for key, task_ids in created_by_key.items():
        if len(task_ids) != 1:
            problems.append(f"idempotency key {key} answered with {len(task_ids)} different tasks: {sorted(task_ids)}")
    all_created = set().union(*created_by_key.values()) if created_by_key else set()
    successful_posts = sum(1 for e in log if e["method"] == "POST" and e["status"] == 200)
    replayed = successful_posts - len(all_created)
    known_keys: set[str] = set()
    expected_created = 0
    for gen in generations:
        keys = {value["idempotency_key"] for key, value in gen.store.written if key == STATE_SUBMISSION}
        known_keys |= keys
        created = set().union(*(created_by_key.get(key, set()) for key in keys)) if keys else set()
        expected = 2 if gen.kind == "fail_once" else 1
        expected_created += expected
        if len(created) != expected:
            problems.append(f"generation {gen.index} ({gen.kind}) created {len(created)} EvoLink tasks, not {expected}")
    if stray := set(created_by_key) - known_keys:
        problems.append(f"{len(stray)} POSTs carried an idempotency key no task instance stored")

    # Outcomes.
    files_verified = 0
    for gen in generations:
        label = f"generation {gen.index} ({gen.kind})"
        if gen.kind == "policy":
            policy_tries = [line for line in gen.try_errors if POLICY_CODE in line]
            if gen.outcome != "failed" or POLICY_CODE not in gen.final_error:
                problems.append(f"{label} ended {gen.outcome!r}, not failed with {POLICY_CODE}: {gen.final_error}")
            elif len(policy_tries) != 1 or not gen.try_errors[-1].startswith("AirflowFailException"):
                problems.append(f"{label} saw {POLICY_CODE} in {len(policy_tries)} tries, not exactly one final try")
            continue
        if gen.outcome != "success" or not gen.evolink_task_id:
            problems.append(f"{label} ended {gen.outcome!r}; its tries: {' | '.join(gen.try_errors)}")
            continue
        if gen.kind == "fail_once" and not any("service_error" in line for line in gen.try_errors):
            problems.append(f"{label} succeeded without its first task failing with service_error")
        target = folder / f"{gen.evolink_task_id}.mp4"
        if gen.stored_uris != [target.as_uri()]:
            problems.append(f"{label} stored {gen.stored_uris}, expected [{target.as_uri()}]")
        if not target.is_file():
            problems.append(f"{label}: {target.name} is missing")
            continue
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if actual != emu.result_sha256(gen.evolink_task_id):
            problems.append(f"{label}: {target.name} differs from what the emulator served (sha256 {actual})")
        else:
            files_verified += 1

    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []
    temporary = [path.name for path in files if ".part" in path.name]
    expected_files = {f"{gen.evolink_task_id}.mp4" for gen in generations if gen.outcome == "success"}
    if temporary:
        problems.append(f"{len(temporary)} temporary files left: {temporary[:5]}")
    if unexpected := {path.name for path in files} - expected_files - set(temporary):
        problems.append(f"unexpected files in the destination: {sorted(unexpected)[:5]}")
    file_log = [entry for entry in log if entry["path"].startswith(("/files/", "/samples/"))]
    auth_to_files = sum(1 for entry in file_log if entry["auth"])
    if auth_to_files:
        problems.append(f"{auth_to_files} requests to the result host carried an Authorization header")

    def route(entry: dict[str, Any]) -> str:
        if entry["path"].startswith("/files/"):
            return "GET file"
        return f"{entry['method']} {'/v1/tasks/{id}' if entry['path'].startswith('/v1/tasks/') else entry['path']}"

    return SoakReport(
        size=len(generations),
        seconds=seconds,
        kinds=Counter(gen.kind for gen in generations),
        outcomes=Counter(f"{gen.kind}: {gen.outcome}" for gen in generations),
        generate_tries=Counter(gen.generate_tries for gen in generations),
        save_tries=Counter(gen.save_tries for gen in generations if gen.save_tries),
        try_errors=Counter(_error_kind(line) for gen in generations for line in gen.try_errors),
        requests=Counter(route(entry) for entry in log),
        faults=Counter(entry["fault"] for entry in log if entry["fault"]),
        posts=posts,
        created_tasks=len(all_created),
        expected_created_tasks=expected_created,
        replayed_posts=replayed,
        files_saved=len(files) - len(temporary),
        files_verified=files_verified,
        range_requests=sum(1 for entry in file_log if entry["range"]),
        temporary_files=temporary,
        auth_to_file_host=auth_to_files,
        problems=problems,
    )


# -------------------------------------------------------------------------------------------- storm
@dataclass
class StormPhase:
    """One run of ``triggers`` waits: wall time, requests the emulator saw, and how the triggers ended."""

    seconds: float
    task_reads: int
    rate_limited: int
    events: Counter[str]
    finish_offsets: list[float]  # seconds from the start of the phase to each trigger's event


@dataclass
class StormReport:
    """What :func:`run_storm` measured; ``problems`` lists every broken requirement (empty: all held)."""

    triggers: int
    storm_seconds: float
    poll_interval: float
    baseline: StormPhase
    storm: StormPhase
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def ratio(self) -> float:
        return self.storm.task_reads / max(1, self.baseline.task_reads)

    def tallies(self) -> str:
        def phase(name: str, p: StormPhase) -> str:
            first, last = (min(p.finish_offsets), max(p.finish_offsets)) if p.finish_offsets else (0.0, 0.0)
            return (
                f"  {name:<10} {p.seconds:6.1f} s, {p.task_reads} task reads ({p.rate_limited} answered 429), "
                f"events {dict(p.events)}, finished {first:.1f}-{last:.1f} s after the start"
            )

        lines = [
            f"429 storm: {self.triggers} triggers in one event loop, poll every {self.poll_interval:g} s, "
            f"storm for the first {self.storm_seconds:g} s of the storm phase",
            phase("fault-free", self.baseline),
            phase("storm", self.storm),
            f"  requests   {self.ratio:.2f}x the fault-free count (limit 2x)",
            f"  problems   {len(self.problems)}",
        ]
        lines += [f"    - {problem}" for problem in self.problems]
        return "\n".join(lines)


def run_storm(
    triggers: int = 500,
    *,
    storm_seconds: float = 30.0,
    rate_429: float = 0.5,
    poll_interval: float = 2.0,
    processing_seconds: float | None = None,
    conn_id: str = "evolink_storm",
    seed: int | None = 5,
) -> StormReport:
    """Run ``triggers`` trigger waits fault-free, then again through a 429 storm, and compare.

    Each phase creates ``triggers`` tasks, then runs one ``EvoLinkTaskTrigger`` per task in one fresh event loop
    (one shared client). The tasks take ``processing_seconds`` (default ``storm_seconds`` + 5 s: creating
    the tasks takes a second or two of it) so the triggers are still polling through the whole storm, which
    starts with the storm phase's triggers.

    :param storm_seconds: how long the emulator answers ``rate_429`` of the requests with 429 (``Retry-After: 1``).
    :param poll_interval: the triggers' seconds between status reads.
    """
    _ensure_airflow_home()
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    processing = storm_seconds + 5.0 if processing_seconds is None else processing_seconds
    problems: list[str] = []
    with (
        EvoLinkEmulator(processing_seconds=processing, seed=seed) as emu,
        _connection(conn_id, emu.base_url, emu.api_key, max_retries=3, timeout=30) as conn,
    ):
        task_ids = _create_tasks(conn, triggers)
        emu.clear_requests()
        baseline = _run_phase(emu, conn, task_ids, poll_interval, processing + 120)
        task_ids = _create_tasks(conn, triggers)
        emu.clear_requests()
        emu.set_faults(rate_429=rate_429, retry_after_seconds=1, duration_seconds=storm_seconds)
        storm = _run_phase(emu, conn, task_ids, poll_interval, processing + 120)
    for name, phase in (("fault-free", baseline), ("storm", storm)):
        if phase.events != Counter({"success": triggers}):
            problems.append(f"{name}: events {dict(phase.events)}, expected {triggers} successes")
    if storm.rate_limited == 0:
        problems.append("the storm answered no request with 429")
    if storm.task_reads > 2 * baseline.task_reads:
        problems.append(f"the storm took {storm.task_reads} task reads, over 2x the fault-free {baseline.task_reads}")
    return StormReport(triggers, storm_seconds, poll_interval, baseline, storm, problems)


def _create_tasks(conn_id: str, count: int) -> list[str]:
    from airflow_provider_evolink.hooks.evolink import EvoLinkHook

    request = {"model": "kling-o3-reference-to-video", "prompt": "storm", "duration": 3}
    local = threading.local()

    def create(_: int) -> str:
        if not hasattr(local, "hook"):
            local.hook = EvoLinkHook(evolink_conn_id=conn_id)
        return local.hook.create_video_generation(request).id

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, range(count)))


def _run_phase(emu: Any, conn_id: str, task_ids: list[str], poll_interval: float, deadline: float) -> StormPhase:
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    async def wait_all() -> tuple[list[dict[str, Any]], list[float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        offsets: list[float] = []

        async def wait(evolink_task_id: str) -> dict[str, Any]:
            trigger = EvoLinkTaskTrigger(evolink_task_id, conn_id, poll_interval, time.time() + deadline)
            events = [event.payload async for event in trigger.run()]
            offsets.append(loop.time() - start)
            return events[0] if len(events) == 1 else {"status": f"{len(events)} events"}

        async with asyncio.timeout(deadline + 30):
            events = await asyncio.gather(*(wait(task_id) for task_id in task_ids))
        return events, offsets

    started = time.monotonic()
    events, offsets = asyncio.run(wait_all())
    seconds = time.monotonic() - started
    # Single reads and batch reads (the triggers share reads: triggers/coalescer.py): each is one request to EvoLink.
    reads = [
        entry
        for entry in emu.requests()
        if (entry["method"] == "GET" and entry["path"].startswith("/v1/tasks/")) or entry["path"] == "/v1/tasks/batch"
    ]
    return StormPhase(
        seconds=seconds,
        task_reads=len(reads),
        rate_limited=sum(1 for entry in reads if entry["status"] == 429),
        events=Counter(str(event["status"]) for event in events),
        finish_offsets=offsets,
    )


# --------------------------------------------------------------------------------------------- main
def _quiet_logs() -> None:
    # Every retry and progress line of 200 tasks would bury the tallies; warnings about the run itself stay.
    logging.basicConfig(level=logging.ERROR)
    for name in ("airflow", "airflow_provider_evolink", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.ERROR)

    with contextlib.suppress(Exception):
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200, help="generations in the fault soak (0: skip it)")
    parser.add_argument("--concurrency", type=int, default=16, help="worker threads for the sync parts")
    parser.add_argument("--storm", action="store_true", help="also run the 429 storm")
    parser.add_argument("--storm-triggers", type=int, default=500)
    parser.add_argument("--storm-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    _ensure_airflow_home()
    _quiet_logs()
    ok = True
    if args.size:
        report = run_soak(args.size, concurrency=args.concurrency)
        print(report.tallies(), flush=True)
        ok &= report.ok
    if args.storm:
        storm = run_storm(args.storm_triggers, storm_seconds=args.storm_seconds)
        print(storm.tallies(), flush=True)
        ok &= storm.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
