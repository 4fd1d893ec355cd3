"""Many EvoLink waits in one triggerer event loop (issue 7, benchmark 1).

Starts the emulator in its own process, then for each client pattern runs a fresh child process that
creates N tasks and waits for all of them in one event loop, polling every ``--poll-interval`` seconds:

* ``trigger``: N real ``EvoLinkTaskTrigger`` objects (the hook's shared async client, httpx over aiohttp);
* ``aiohttp-per-poll``: an ``aiohttp.ClientSession`` per poll (the dbt Cloud / HttpTrigger pattern);
* ``httpx-default``: one shared ``httpx.AsyncClient`` on httpx's default transport, same pool size.

Every pattern runs ``--rounds`` times (default 2), the order reversed each round (A B C, C B A): this VM's
speed drifts by a third within minutes, and alternating cancels a steady drift out of the per-pattern means.
Each baseline does the same work per poll as the trigger (same GET with the same headers, body parsed into
``TaskDetail``) and spreads its polls the same way (first poll after a random fraction of the interval, then
the interval ± 10 %). Reported per pattern, for the waiting phase only (imports, schema builds and task
creation happen before the clock starts):

* wall time from the start of the wait to the last event;
* event-loop lag p50/p99: overshoot of a 10 ms ``asyncio.sleep`` sampled all along;
* peak RSS growth: the highest resident set size sampled (psutil, every 50 ms) minus the one at the start;
* requests: ``GET /v1/tasks/…`` counted by the emulator (its request log is cleared before each pattern);
* TCP connections opened: every ``loop.create_connection`` call (aiohttp and anyio, httpx's default backend,
  both open their sockets through it; cross-checked against a server counting accepts, see README);
* CPU ms per poll: the child's user + system CPU time over the wait, divided by the requests (mean over rounds).

Targets are printed beside the figures: CPU ratios on the means, the rest on the worst round.

    python benchmarks/trigger_scale.py [--waiters 2000] [--poll-interval 8] [--complete-after 20] [--rounds 2]
    python benchmarks/trigger_scale.py --patterns trigger --profile /tmp/prof   # cProfile of each child
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
import urllib.request
from pathlib import Path
from typing import Any

PATTERNS = ("trigger", "aiohttp-per-poll", "httpx-default")
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
            self.lags.append(loop.time() - start - LAG_PERIOD)
            count += 1
            if count % RSS_EVERY == 0:
                self.sample_rss()


async def _create_tasks(base_url: str, count: int) -> list[str]:
    import httpx

    body = {
        "model": "kling-o3-reference-to-video",
        "prompt": "benchmark",
        "video_url": f"{base_url}/samples/reference.mp4",
        "duration": 3,
    }
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        semaphore = asyncio.Semaphore(32)

        async def create() -> str:
            async with semaphore:
                response = await client.post("/v1/videos/generations", json=body)
                response.raise_for_status()
                return str(response.json()["id"])

        return list(await asyncio.gather(*(create() for _ in range(count))))


async def _wait_trigger(trigger: Any) -> str:
    async for event in trigger.run():
        return str(event.payload["status"])
    return "no event"


async def _poll_loop(poll: Any, poll_interval: float, polls: list[int]) -> str:
    from airflow_provider_evolink.models import TaskStatus

    # The same spreading as the trigger: first poll after a random fraction of the interval, then ± 10 %.
    await asyncio.sleep(random.uniform(0, poll_interval))
    while True:
        detail = await poll()
        polls[0] += 1
        if detail.status is TaskStatus.COMPLETED:
            return "success"
        if detail.status.is_terminal:
            return str(detail.status)
        await asyncio.sleep(poll_interval * random.uniform(1 - JITTER, 1 + JITTER))


def _warm_up() -> None:
    """Import and build everything a long-running triggerer has already imported and built."""
    import aiohttp  # noqa: F401
    import httpx  # noqa: F401
    import httpx_aiohttp  # noqa: F401

    from airflow_provider_evolink.models import TaskDetail
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger  # noqa: F401

    # TaskDetail is built on first use (defer_build): build it now, not inside the measured wait.
    TaskDetail.model_validate_json('{"id": "task-unified-warm-up", "status": "pending"}')


async def _child(
    pattern: str, base_url: str, waiters: int, poll_interval: float, profile: str | None
) -> dict[str, Any]:
    import aiohttp
    import httpx

    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE, USER_AGENT
    from airflow_provider_evolink.models import TaskDetail
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    ids = await _create_tasks(base_url, waiters)
    headers = {"Authorization": f"Bearer {API_KEY}", "User-Agent": USER_AGENT}
    polls = [0]
    client: httpx.AsyncClient | None = None
    if pattern == "trigger":
        # Built here as the triggerer does (from serialised kwargs), before the clock starts.
        triggers = [
            EvoLinkTaskTrigger(
                evolink_task_id=i,
                evolink_conn_id="evolink_default",
                poll_interval=poll_interval,
                end_time=time.time() + 3600,
            )
            for i in ids
        ]
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
    cpu_before = os.times()
    started = time.monotonic()
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    wall = time.monotonic() - started
    cpu_after = os.times()
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
    for result in results:
        key = result if isinstance(result, str) else type(result).__name__
        statuses[key] = statuses.get(key, 0) + 1
    lags = sorted(probe.lags)
    return {
        "pattern": pattern,
        "statuses": statuses,
        "wall_s": wall,
        "lag_p50_ms": statistics.median(lags) * 1000,
        "lag_p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000,
        "lag_max_ms": lags[-1] * 1000,
        "rss_growth_mb": (probe.rss_peak - probe.rss_start) / 1e6,
        "connections": probe.connections,
        "cpu_s": (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system),
        "client_polls": polls[0],
    }


def _run_child(args: argparse.Namespace) -> None:
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {"conn_type": "evolink", "host": args.base_url, "password": API_KEY, "extra": {"max_retries": 5}}
    )
    _warm_up()
    result = asyncio.run(_child(args.child, args.base_url, args.waiters, args.poll_interval, args.profile))
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------- driver side
def _emulator_log(base_url: str, method: str = "GET") -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{base_url}/_emulator/requests", method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own loopback emulator
        body = response.read()
    return json.loads(body) if body else []


def _child_env() -> dict[str, str]:
    """The environment of the children: with a bytecode cache, so each starts in seconds, not tens."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "airflow-provider-evolink-bench-pycache"))
    return env


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=2000)
    parser.add_argument("--poll-interval", type=float, default=8.0, help="seconds between polls of one waiter")
    parser.add_argument("--complete-after", type=float, default=20.0, help="emulator processing time, seconds")
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--rounds", type=int, default=2, help="runs of every pattern, alternating the order")
    parser.add_argument("--profile", help="write a cProfile of each child's wait to this folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        _run_child(args)
        return

    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE

    env = _child_env()
    emulator = subprocess.Popen(
        [
            *(sys.executable, "-m", "airflow_provider_evolink.emulator", "--port", "0", "--api-key", API_KEY),
            *("--processing-seconds", str(args.complete_after)),
            # Inputs are not what this measures: the emulator's fetch of each task's sample input stays out of it.
            "--no-fetch-inputs",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    patterns = args.patterns.split(",")
    results: list[dict[str, Any]] = []
    load_before = _load()
    scratch = Path(tempfile.mkdtemp(prefix="evolink-trigger-bench-"))
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip().split()[-1]
        for round_number in range(1, args.rounds + 1):
            # Forward, then backward (A B C, C B A, ...): this VM's speed drifts by a third within minutes,
            # and alternating the order cancels a steady drift out of the per-pattern means.
            for pattern in patterns if round_number % 2 else patterns[::-1]:
                result = _run_pattern(pattern, base_url, args, scratch, env)
                result["round"] = round_number
                results.append(result)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"trigger_scale: {args.waiters} waiters, {args.poll_interval:g} s polls, tasks complete "
        f"{args.complete_after:g} s after creation, {args.rounds} round(s); {os.cpu_count()} cores; load avg "
        f"before {load_before}, after {_load()}; pool size {ASYNC_POOL_SIZE}"
    )
    header = f"{'pattern':<18}{'round':>5}  {'events':<21}{'wall s':>7}{'lag p50':>8}{'lag p99':>8}{'RSS MB':>8}"
    print(header + f"{'requests':>9}{'non-200':>8}{'TCP conns':>10}{'CPU ms/poll':>12}")
    for r in sorted(results, key=lambda r: (patterns.index(r["pattern"]), r["round"])):
        events = ", ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"{r['pattern']:<18}{r['round']:>5}  {events:<21}{r['wall_s']:>7.1f}{r['lag_p50_ms']:>8.1f}"
            f"{r['lag_p99_ms']:>8.1f}{r['rss_growth_mb']:>8.1f}{r['requests']:>9}{r['non_200']:>8}"
            f"{r['connections']:>10}{r['cpu_ms_per_poll']:>12.3f}"
        )
    # Per pattern: the worst round for events, lag, memory and connections; the mean CPU per poll.
    cpu = {p: statistics.mean(r["cpu_ms_per_poll"] for r in results if r["pattern"] == p) for p in patterns}
    print("mean CPU ms/poll: " + ", ".join(f"{p} {cpu[p]:.3f}" for p in patterns))
    ours = [r for r in results if r["pattern"] == "trigger"]
    if not ours:
        return
    worst_lag = max(r["lag_p99_ms"] for r in ours)
    worst_rss = max(r["rss_growth_mb"] for r in ours)
    most_connections = max(r["connections"] for r in ours)
    failed = [r["statuses"] for r in ours if r["statuses"] != {"success": args.waiters}]
    checks = [
        (f"every trigger ends with success ({failed or 'all rounds'})", not failed),
        (f"p99 loop lag {worst_lag:.1f} ms < 50 ms (worst round)", worst_lag < 50),
        (f"peak RSS growth {worst_rss:.1f} MB <= 100 MB (worst round)", worst_rss <= 100),
        (
            f"TCP connections opened {most_connections} <= pool size {ASYNC_POOL_SIZE} (worst round)",
            most_connections <= ASYNC_POOL_SIZE,
        ),
    ]
    if "aiohttp-per-poll" in cpu:
        ratio = cpu["trigger"] / cpu["aiohttp-per-poll"]
        checks.append(
            (
                f"CPU/poll {cpu['trigger']:.3f} ms <= 1.2 x aiohttp-per-poll's {cpu['aiohttp-per-poll']:.3f} ms "
                f"(ratio {ratio:.2f})",
                ratio <= 1.2,
            )
        )
    if "httpx-default" in cpu:
        ratio = cpu["httpx-default"] / cpu["trigger"]
        checks.append(
            (
                f"httpx-default's CPU/poll {cpu['httpx-default']:.3f} ms >= 1.5 x trigger's (ratio {ratio:.2f})",
                ratio >= 1.5,
            )
        )
    print("targets (trigger pattern):")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


def _run_pattern(
    pattern: str, base_url: str, args: argparse.Namespace, scratch: Path, env: dict[str, str]
) -> dict[str, Any]:
    """One child process running ``pattern``; its figures plus what the emulator saw."""
    _emulator_log(base_url, "DELETE")
    result_file, log_file = scratch / f"{pattern}.json", scratch / f"{pattern}.log"
    command = [sys.executable, __file__, "--child", pattern, "--base-url", base_url]
    command += ["--waiters", str(args.waiters), "--poll-interval", str(args.poll_interval)]
    command += ["--result", str(result_file)]
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
    polls = [r for r in _emulator_log(base_url) if r["method"] == "GET" and r["path"].startswith("/v1/tasks/")]
    result["requests"] = len(polls)
    result["non_200"] = sum(1 for r in polls if r["status"] != 200)
    result["cpu_ms_per_poll"] = result["cpu_s"] * 1000 / max(result["requests"], 1)
    return result


if __name__ == "__main__":
    main()
