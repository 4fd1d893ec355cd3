"""Many EvoLink waits in one triggerer event loop: reads, CPU and detection delay per generation (issues 7, 13).

The emulator runs in this (driver) process on a background thread; for each scenario and client pattern a fresh
child process creates N tasks and waits for all of them in one event loop:

* ``trigger``: N real ``EvoLinkTaskTrigger`` objects (one shared aiohttp pool), reads paced by progress and
  ``estimated_time`` (the default) and shared: due reads go up to 50 per ``POST /v1/tasks/batch`` (issue 30);
* ``trigger-single``: the same with the connection extra ``batch_reads: off``: one ``GET`` per wait per read (the
  "before" of issue 30);
* ``trigger-fixed``: ``adaptive_polling=False`` and ``batch_reads: off``: a read every ``poll_interval`` ± 10 %, as
  every provider in the field polls (the "before" of issue 13);
* ``aiohttp-per-poll``: an ``aiohttp.ClientSession`` per poll (the dbt Cloud / HttpTrigger pattern), fixed
  interval;
* ``httpx-default``: one shared ``httpx.AsyncClient`` on httpx's default transport, same pool size, fixed interval.

Renders are time-scaled real ones (``--time-scale``, default 0.1): Kling's ~300 s estimate and EvoLink's 8 s pace
become 30 s and 0.8 s; each task's render time is drawn from a log-normal spread (``--spread``, default 0.25)
around its scenario's median. Scenarios (``--scenarios``):

* ``near``: tasks finish near their estimate, progress linear;
* ``stuck``: near their estimate, progress stuck at 0 until done;
* ``early``: at 30 % of the estimate, progress linear;
* ``late``: at 300 % of the estimate, progress linear;
* ``jumps``: near their estimate, progress in quarters (no target: reported only).

The anchors (``aiohttp-per-poll``, ``httpx-default``) run in the first scenario only: their schedule is
``trigger-fixed``'s and the progress shape does not change their cost per read. Every pattern of a scenario runs
``--rounds`` times, the order reversed each round (this VM's speed drifts by a third within minutes). Reported per
pattern, for the waiting phase only (imports, schema builds and task creation come before the clock starts):

* reads per generation: ``GET /v1/tasks/…`` the emulator answered, divided by the waits;
* CPU per generation and per read: the child's user + system CPU over the wait, less what the lag/RSS probe
  spent between its sleeps (``time.thread_time``; it costs the same per second in every pattern, so it would
  weigh most on the pattern that reads least), divided by the waits / the reads;
* detection delay p50/p95: from the emulator's completion of a task (``EvoLinkEmulator.done_at``) to the wait's
  event, in seconds and in multiples of ``poll_interval`` (time scaling keeps that ratio);
* loop lag p99 (a 10 ms ``asyncio.sleep``'s overshoot), peak RSS growth (psutil every 50 ms), TCP connections
  opened (``loop.create_connection`` calls).

Targets are printed beside the figures: CPU on the means over rounds, the rest on the worst round.

    python benchmarks/trigger_scale.py [--waiters 2000] [--time-scale 0.1] [--scenarios near,stuck,early,late]
    python benchmarks/trigger_scale.py --scenarios near --patterns trigger --profile /tmp/prof   # cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATTERNS = ("trigger", "trigger-single", "trigger-fixed", "aiohttp-per-poll", "httpx-default")
#: Patterns whose connection has ``batch_reads: off``.
SINGLE_READS = ("trigger-single", "trigger-fixed")
ANCHORS = ("aiohttp-per-poll", "httpx-default")
#: scenario -> (render time median as a multiple of the estimate, progress mode)
SCENARIOS: dict[str, tuple[float, str]] = {
    "near": (1.0, "linear"),
    "stuck": (1.0, "stuck"),
    "early": (0.3, "linear"),
    "late": (3.0, "linear"),
    "jumps": (1.0, "jumps"),
}
API_KEY = "sk-bench"
JITTER = 0.1  # the trigger's own ± jitter on later polls
LAG_PERIOD = 0.01  # seconds slept by the lag sampler
RSS_EVERY = 5  # lag samples between RSS samples (50 ms)


# ----------------------------------------------------------------------------------------- child side
class _Probe:
    """Counts TCP connections opened through the loop, samples event-loop lag and peak RSS."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import psutil

        self.connections = 0
        self.lags: list[float] = []
        self.cpu = 0.0  # CPU seconds the probe itself spent between its sleeps (taken out of the figures)
        self._process = psutil.Process()
        self.rss_start = self.rss_peak = self._process.memory_info().rss
        original = loop.create_connection

        # aiohttp (after aiohappyeyeballs made the socket) and anyio both call loop.create_connection once
        # per TCP connection; an instance attribute shadows the method for every caller that looks it up.
        async def counting_create_connection(*args: Any, **kwargs: Any) -> Any:
            self.connections += 1
            return await original(*args, **kwargs)

        loop.create_connection = counting_create_connection  # type: ignore[method-assign]

    def sample_rss(self) -> None:
        self.rss_peak = max(self.rss_peak, self._process.memory_info().rss)

    async def sample(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        count = 0
        while not stop.is_set():
            start = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            cpu = time.thread_time()
            self.lags.append(loop.time() - start - LAG_PERIOD)
            count += 1
            if count % RSS_EVERY == 0:
                self.sample_rss()
            self.cpu += time.thread_time() - cpu


#: The model of the tasks created, from the driver (``BENCH_MODEL``): an untyped one skips the emulator's request
#: validation, so 10,000 tasks are created in seconds (``batch_reads.py``); the reads do not depend on it.
_MODEL_VARIABLE = "BENCH_MODEL"


async def _create_tasks(base_url: str, count: int) -> tuple[list[str], float | None]:
    """Task IDs, and the ``task_info.estimated_time`` of the create answers (what the operator hands on)."""
    import httpx

    body = {
        "model": os.environ.get(_MODEL_VARIABLE, "kling-o3-reference-to-video"),
        "prompt": "benchmark",
        "video_url": f"{base_url}/samples/reference.mp4",
        "duration": 3,
    }
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        semaphore = asyncio.Semaphore(32)

        async def create() -> tuple[str, float | None]:
            async with semaphore:
                response = await client.post("/v1/videos/generations", json=body)
                response.raise_for_status()
                task = response.json()
                return str(task["id"]), task["task_info"].get("estimated_time")

        created = await asyncio.gather(*(create() for _ in range(count)))
        return [task_id for task_id, _ in created], created[0][1]


async def _wait_trigger(trigger: Any) -> tuple[str, float]:
    """The event's status and when it came (epoch seconds)."""
    async for event in trigger.run():
        return str(event.payload["status"]), time.time()
    return "no event", time.time()


async def _lane(first: Any, base_url: str, make: Any, left: list[int]) -> list[tuple[str, Any]]:
    """One of the N waits of a pipeline that keeps N generations in flight: wait for ``first``, then while
    generations are ``left``, create the next task and wait for it. Each wait's (task ID, ``_wait_trigger`` result)."""
    done = [(first.evolink_task_id, await _wait_trigger(first))]
    while left[0] > 0:
        left[0] -= 1
        [task_id], _ = await _create_tasks(base_url, 1)
        done.append((task_id, await _wait_trigger(make(task_id))))
    return done


async def _poll_loop(poll: Any, poll_interval: float, polls: list[int]) -> tuple[str, float]:
    from airflow_provider_evolink.models import TaskStatus

    # The same spreading as the fixed-interval trigger: first poll after a random fraction of the interval,
    # then ± 10 %.
    await asyncio.sleep(random.uniform(0, poll_interval))
    while True:
        detail = await poll()
        polls[0] += 1
        if detail.status is TaskStatus.COMPLETED:
            return "success", time.time()
        if detail.status.is_terminal:
            return str(detail.status), time.time()
        await asyncio.sleep(poll_interval * random.uniform(1 - JITTER, 1 + JITTER))


def _warm_up() -> None:
    """Import and build everything a long-running triggerer has already imported and built."""
    import aiohttp  # noqa: F401
    import httpx  # noqa: F401

    from airflow_provider_evolink.models import TaskDetail
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger  # noqa: F401

    # TaskDetail is built on first use (defer_build): build it now, not inside the measured wait.
    TaskDetail.model_validate_json('{"id": "task-unified-warm-up", "status": "pending"}')


async def _child(
    pattern: str, base_url: str, waiters: int, poll_interval: float, profile: str | None, generations: int
) -> dict[str, Any]:
    import aiohttp
    import httpx

    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE, USER_AGENT
    from airflow_provider_evolink.models import TaskDetail
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    ids, estimated_time = await _create_tasks(base_url, waiters)
    headers = {"Authorization": f"Bearer {API_KEY}", "User-Agent": USER_AGENT}
    polls = [0]
    client: httpx.AsyncClient | None = None
    rss_before_triggers = _rss()
    if pattern in ("trigger", "trigger-single", "trigger-fixed"):

        def make(evolink_task_id: str) -> EvoLinkTaskTrigger:
            return EvoLinkTaskTrigger(
                evolink_task_id=evolink_task_id,
                evolink_conn_id="evolink_default",
                poll_interval=poll_interval,
                end_time=time.time() + 3600,
                estimated_time=estimated_time,
                adaptive_polling=pattern != "trigger-fixed",
            )

        # Built here as the triggerer does (from serialised kwargs), before the clock starts.
        triggers = [make(i) for i in ids]
        if generations > waiters:  # a pipeline keeping `waiters` generations in flight
            left = [generations - waiters]
            coroutines = [_lane(trigger, base_url, make, left) for trigger in triggers]
        else:
            coroutines = [_wait_trigger(trigger) for trigger in triggers]
    elif pattern == "aiohttp-per-poll":

        def per_poll(evolink_task_id: str) -> Any:
            async def poll() -> TaskDetail:
                async with (
                    aiohttp.ClientSession(headers=headers) as session,
                    session.get(f"{base_url}/v1/tasks/{evolink_task_id}") as response,
                ):
                    response.raise_for_status()
                    return TaskDetail.model_validate_json(await response.read())

            return poll

        coroutines = [_poll_loop(per_poll(i), poll_interval, polls) for i in ids]
    elif pattern == "httpx-default":
        client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(30.0, pool=60.0),
            limits=httpx.Limits(max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_POOL_SIZE),
        )

        def shared(evolink_task_id: str) -> Any:
            async def poll() -> TaskDetail:
                response = await client.get(f"/v1/tasks/{evolink_task_id}")
                response.raise_for_status()
                return TaskDetail.model_validate_json(response.content)

            return poll

        coroutines = [_poll_loop(shared(i), poll_interval, polls) for i in ids]
    else:
        raise SystemExit(f"unknown pattern {pattern!r}; choose from {', '.join(PATTERNS)}")

    gc.collect()
    loop = asyncio.get_running_loop()
    probe = _Probe(loop)
    stop = asyncio.Event()
    sampler = asyncio.create_task(probe.sample(stop))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: a busy machine must not skew it
        profiler.enable()
    cpu_before, probe_before = os.times(), probe.cpu
    started, started_epoch = time.monotonic(), time.time()
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    wall = time.monotonic() - started
    cpu_after, probe_cpu = os.times(), probe.cpu - probe_before
    if profiler is not None and profile:
        profiler.disable()
        Path(profile).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(Path(profile) / f"{pattern}.prof")
    probe.sample_rss()
    stop.set()
    await sampler
    if client is not None:
        await client.aclose()
    statuses: dict[str, int] = {}
    events: dict[str, float] = {}
    for task_id, result in _per_wait(ids, results):
        key = result[0] if isinstance(result, tuple) else type(result).__name__
        statuses[key] = statuses.get(key, 0) + 1
        if isinstance(result, tuple):
            events[task_id] = result[1]
    lags = sorted(probe.lags)
    return {
        "pattern": pattern,
        "statuses": statuses,
        "wall_s": wall,
        "lag_p50_ms": statistics.median(lags) * 1000,
        "lag_p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000,
        "lag_max_ms": lags[-1] * 1000,
        "rss_growth_mb": (probe.rss_peak - probe.rss_start) / 1e6,
        "rss_per_wait_kb": (probe.rss_peak - rss_before_triggers) / 1e3 / max(waiters, 1),
        "connections": probe.connections,
        "cpu_s": (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system) - probe_cpu,
        "probe_cpu_s": probe_cpu,
        "client_polls": polls[0],
        "events": events,
        "started_epoch": started_epoch,
    }


def _per_wait(ids: list[str], results: list[Any]) -> list[tuple[str, Any]]:
    """(task ID, result) of every wait: a lane's list holds several."""
    pairs: list[tuple[str, Any]] = []
    for task_id, result in zip(ids, results, strict=True):
        pairs += result if isinstance(result, list) else [(task_id, result)]
    return pairs


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _run_child(args: argparse.Namespace) -> None:
    extra = {"max_retries": 5, "batch_reads": "off" if args.child in SINGLE_READS else "auto"}
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {"conn_type": "evolink", "host": args.base_url, "password": API_KEY, "extra": extra}
    )
    _warm_up()
    generations = max(args.generations or 0, args.waiters)
    result = asyncio.run(_child(args.child, args.base_url, args.waiters, args.poll_interval, args.profile, generations))
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------- driver side
def _child_env() -> dict[str, str]:
    """The environment of the children: with a bytecode cache, so each starts in seconds, not tens."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "airflow-provider-evolink-bench-pycache"))
    return env


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=0.1, help="real seconds per modelled second")
    parser.add_argument("--poll-interval", type=float, default=8.0, help="poll_interval, modelled seconds")
    parser.add_argument("--estimate", type=float, default=300.0, help="estimated_time, modelled seconds")
    parser.add_argument("--spread", type=float, default=0.25, help="log-normal spread of render times")
    parser.add_argument("--scenarios", default="near,stuck,early,late", help=f"of {', '.join(SCENARIOS)}")
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--rounds", type=int, default=1, help="runs of every pattern, alternating the order")
    parser.add_argument("--seed", type=int, default=13, help="seed of the render-time draws")
    parser.add_argument("--profile", help="write a cProfile of each child's wait to this folder")
    parser.add_argument("--generations", type=int, help=argparse.SUPPRESS)  # > waiters: keep waiters in flight
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        _run_child(args)
        return

    from airflow_provider_evolink.emulator import EvoLinkEmulator
    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE

    env = _child_env()
    poll = args.poll_interval * args.time_scale
    estimate = args.estimate * args.time_scale
    scenarios = args.scenarios.split(",")
    patterns = args.patterns.split(",")
    results: list[dict[str, Any]] = []
    load_before = _load()
    scratch = Path(tempfile.mkdtemp(prefix="evolink-trigger-bench-"))
    try:
        for number, scenario in enumerate(scenarios):
            share, progress_mode = SCENARIOS[scenario]
            emulator = EvoLinkEmulator(
                api_key=API_KEY,
                processing_seconds=estimate * share,
                processing_spread=args.spread,
                estimate_factor=1 / share,
                progress_mode=progress_mode,
                seed=args.seed,
                # Inputs are not what this measures: the emulator's fetch of each task's sample input stays out.
                fetch_inputs=False,
            )
            # The anchors' schedule is trigger-fixed's and the shape does not change their cost per read.
            here = [p for p in patterns if number == 0 or p not in ANCHORS]
            with emulator:
                for round_number in range(1, args.rounds + 1):
                    # Forward, then backward (A B C, C B A): alternating cancels a steady drift of the VM.
                    for pattern in here if round_number % 2 else here[::-1]:
                        result = _run_pattern(pattern, emulator, args, poll, scratch, env)
                        result.update(round=round_number, scenario=scenario)
                        results.append(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"trigger_scale: {args.waiters} waiters per run, time scale {args.time_scale:g} (poll_interval "
        f"{args.poll_interval:g} s -> {poll:g} s, estimated_time {args.estimate:g} s -> {estimate:g} s), render times "
        f"log-normal spread {args.spread:g}, {args.rounds} round(s); {os.cpu_count()} cores; load avg before "
        f"{load_before}, after {_load()}; pool size {ASYNC_POOL_SIZE}"
    )
    _report(results, scenarios, patterns, args, poll, ASYNC_POOL_SIZE)


def _report(
    results: list[dict[str, Any]],
    scenarios: list[str],
    patterns: list[str],
    args: argparse.Namespace,
    poll: float,
    pool_size: int,
) -> None:
    head = f"{'scenario':<9}{'pattern':<18}{'rnd':>3}  {'events':<16}{'sched':>6}{'reads/gen':>10}{'req/gen':>8}"
    head += f"{'CPU ms/gen':>11}"
    print(head + f"{'CPU ms/read':>12}{'det p50 s':>10}{'det p95 s':>10}{'p95/poll':>9}{'lag p99':>8}{'RSS MB':>7}")
    for r in sorted(results, key=lambda r: (scenarios.index(r["scenario"]), patterns.index(r["pattern"]), r["round"])):
        events = ", ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"{r['scenario']:<9}{r['pattern']:<18}{r['round']:>3}  {events:<16}{r['schedule_reads_per_gen']:>6.1f}"
            f"{r['reads_per_gen']:>10.2f}{r['requests_per_gen']:>8.2f}"
            f"{r['cpu_ms_per_gen']:>11.2f}{r['cpu_ms_per_read']:>12.3f}{r['detect_p50_s']:>10.2f}"
            f"{r['detect_p95_s']:>10.2f}{r['detect_p95_s'] / poll:>9.2f}{r['lag_p99_ms']:>8.1f}"
            f"{r['rss_growth_mb']:>7.1f}"
        )

    def mean(scenario: str, pattern: str, key: str) -> float | None:
        rows = [r[key] for r in results if r["scenario"] == scenario and r["pattern"] == pattern]
        return statistics.mean(rows) if rows else None

    def worst(scenario: str, pattern: str, key: str) -> float | None:
        rows = [r[key] for r in results if r["scenario"] == scenario and r["pattern"] == pattern]
        return max(rows) if rows else None

    checks: list[tuple[str, bool]] = []
    for scenario in scenarios:
        ours, fixed = mean(scenario, "trigger", "reads_per_gen"), mean(scenario, "trigger-fixed", "reads_per_gen")
        schedule = mean(scenario, "trigger", "schedule_reads_per_gen")
        p95 = worst(scenario, "trigger", "detect_p95_s")
        if scenario == "jumps" or ours is None or p95 is None or schedule is None:
            continue
        limit, bound = (0.35, 1.0) if scenario == "near" else (1.0, 3.0)
        references = [("the fixed-interval schedule's", schedule)]
        if fixed is not None:
            references.append(("trigger-fixed's measured", fixed))
        for name, reads in references:
            checks.append(
                (
                    f"{scenario}: reads/gen {ours:.2f} <= {limit:g} x {name} {reads:.2f} (ratio {ours / reads:.2f})",
                    ours <= limit * reads,
                )
            )
        checks.append(
            (
                f"{scenario}: p95 detection delay {p95:.2f} s <= {bound:g} x poll_interval ({bound * poll:.2f} s; "
                f"{p95 / poll:.2f} x)",
                p95 <= bound * poll,
            )
        )
    first = scenarios[0]
    per_read = mean(first, "trigger", "cpu_ms_per_read")
    per_gen = mean(first, "trigger", "cpu_ms_per_gen")
    anchor_read = mean(first, "aiohttp-per-poll", "cpu_ms_per_read")
    anchor_gen = mean(first, "aiohttp-per-poll", "cpu_ms_per_gen")
    if per_read is not None and per_gen is not None and anchor_read and anchor_gen:
        checks.append(
            (
                f"{first}: CPU/read {per_read:.3f} ms <= aiohttp-per-poll's {anchor_read:.3f} ms "
                f"(ratio {per_read / anchor_read:.2f})",
                per_read <= anchor_read,
            )
        )
        checks.append(
            (
                f"{first}: CPU/gen {per_gen:.2f} ms <= 0.35 x aiohttp-per-poll's {anchor_gen:.2f} ms "
                f"(ratio {per_gen / anchor_gen:.2f})",
                per_gen <= 0.35 * anchor_gen,
            )
        )
        if (schedule := mean(first, "aiohttp-per-poll", "schedule_reads_per_gen")) is not None:
            # The anchor's CPU per generation had its loop kept the pace (a loaded loop reads late and fewer).
            paced = anchor_read * schedule
            checks.append(
                (
                    f"{first}: CPU/gen {per_gen:.2f} ms <= 0.35 x aiohttp-per-poll's on the schedule, "
                    f"{anchor_read:.3f} ms x {schedule:.1f} reads = {paced:.2f} ms (ratio {per_gen / paced:.2f})",
                    per_gen <= 0.35 * paced,
                )
            )
    ours_rows = [r for r in results if r["pattern"] == "trigger"]
    if ours_rows:
        failed = [r["statuses"] for r in ours_rows if r["statuses"] != {"success": args.waiters}]
        lag = max(r["lag_p99_ms"] for r in ours_rows)
        rss = max(r["rss_growth_mb"] for r in ours_rows)
        conns = max(r["connections"] for r in ours_rows)
        checks += [
            (f"every trigger ends with success, {args.waiters} at once ({failed or 'all runs'})", not failed),
            (f"p99 loop lag {lag:.1f} ms < 50 ms (worst run)", lag < 50),
            (f"peak RSS growth {rss:.1f} MB <= 100 MB (worst run)", rss <= 100),
            (f"TCP connections opened {conns} <= pool size {pool_size} (worst run)", conns <= pool_size),
        ]
    print("targets (trigger pattern; reads and CPU on means over rounds, the rest on the worst run):")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


def _run_pattern(
    pattern: str, emulator: Any, args: argparse.Namespace, poll: float, scratch: Path, env: dict[str, str]
) -> dict[str, Any]:
    """One child process running ``pattern``; its figures plus what the emulator saw."""
    emulator.clear_requests()
    result_file, log_file = scratch / f"{pattern}.json", scratch / f"{pattern}.log"
    command = [sys.executable, __file__, "--child", pattern, "--base-url", emulator.base_url]
    command += ["--waiters", str(args.waiters), "--poll-interval", str(poll)]
    command += ["--result", str(result_file)]
    generations = max(getattr(args, "generations", None) or 0, args.waiters, 1)
    if generations > args.waiters:
        command += ["--generations", str(generations)]
    if args.profile:
        command += ["--profile", args.profile]
    # The triggers' log lines go to a file, as a triggerer's go to its log files: a pipe the driver drains
    # late would block the child's event loop on write and show up as loop lag.
    with log_file.open("w") as log:
        child = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    if child.returncode != 0:
        sys.stderr.write(log_file.read_text()[-5000:])
        raise SystemExit(f"the {pattern} child failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(result_file.read_text())
    result["log_lines"] = len(log_file.read_text().splitlines())
    requests = emulator.requests()
    reads = [r for r in requests if r["method"] == "GET" and r["path"].startswith("/v1/tasks/")]
    batches = [r for r in requests if r["method"] == "POST" and r["path"] == "/v1/tasks/batch"]
    result["requests"] = len(reads) + len(batches)
    result["batch_requests"] = len(batches)
    result["non_200"] = sum(1 for r in reads + batches if r["status"] != 200)
    # Task reads: each task a batch read (the emulator logs its IDs, comma-separated) counts, as each costs EvoLink
    # an upstream query; requests: what EvoLink's rate limit counts.
    task_reads = len(reads) + sum(len(r["task_id"].split(",")) for r in batches if r["task_id"])
    waits = generations
    result["reads_per_gen"] = task_reads / waits
    result["requests_per_gen"] = result["requests"] / waits
    result["cpu_ms_per_gen"] = result["cpu_s"] * 1000 / waits
    result["cpu_ms_per_read"] = result["cpu_s"] * 1000 / max(task_reads, 1)
    done = {task_id: emulator.done_at(task_id) for task_id in result["events"]}
    delays = [at - done[task_id] for task_id, at in result.pop("events").items()]
    # Fixed-interval polling's reads when the loop keeps the pace: the first at half an interval on average, then
    # one per interval until the render ends, then the one that sees it. A loaded loop reads late and fewer.
    started = result.pop("started_epoch")
    result["schedule_reads_per_gen"] = statistics.mean(max(0.0, d - started) / poll + 1.5 for d in done.values())
    result["detect_p50_s"] = _percentile(delays, 0.5)
    result["detect_p95_s"] = _percentile(delays, 0.95)
    return result


if __name__ == "__main__":
    main()
