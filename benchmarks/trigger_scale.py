"""Many EvoLink waits in one triggerer event loop (issue 7, benchmark 1).

Starts the emulator in its own process, then for each client pattern runs a fresh child process that
creates N tasks and waits for all of them in one event loop, polling every ``--poll-interval`` seconds:

* ``trigger``: N real ``EvoLinkTaskTrigger`` objects (shared async client of the hook);
* ``aiohttp-per-poll``: an ``aiohttp.ClientSession`` per poll (the dbt Cloud / HttpTrigger pattern);
* ``httpx-default``: one shared ``httpx.AsyncClient`` on httpx's default transport, same pool size.

Each baseline does the same work per poll as the trigger (same GET, body parsed into ``TaskDetail``) and
spreads its first poll the same way. Reported per pattern: wall time to all events, event-loop lag p50/p99
(an ``asyncio.sleep`` overshoot sampler), peak RSS growth, requests sent, TCP connections opened, and CPU
ms per poll (client process only). Targets are printed beside the figures.

    python benchmarks/trigger_scale.py [--waiters 2000] [--poll-interval 8] [--complete-after 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

PATTERNS = ("trigger", "aiohttp-per-poll", "httpx-default")
API_KEY = "sk-bench"


# ----------------------------------------------------------------------------------------- child side
class _Probe:
    """Counts TCP connections opened through the loop and samples event-loop lag."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.connections = 0
        self.lags: list[float] = []
        original = loop.create_connection

        async def counting_create_connection(*args: Any, **kwargs: Any) -> Any:
            self.connections += 1
            return await original(*args, **kwargs)

        loop.create_connection = counting_create_connection  # type: ignore[method-assign]

    async def sample_lag(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            start = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - start - 0.01)


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


async def _wait_trigger(evolink_task_id: str, poll_interval: float, deadline: float, polls: list[int]) -> str:
    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    trigger = EvoLinkTaskTrigger(
        evolink_task_id=evolink_task_id, evolink_conn_id="evolink_default", poll_interval=poll_interval, end_time=deadline
    )
    async for event in trigger.run():
        return str(event.payload["status"])
    return "no event"


async def _poll_loop(poll: Any, poll_interval: float, polls: list[int]) -> str:
    from airflow_provider_evolink.models import TaskStatus

    # The same spreading as the trigger: first poll after a random fraction of the interval.
    await asyncio.sleep(random.uniform(0, poll_interval))
    while True:
        detail = await poll()
        polls[0] += 1
        if detail.status is TaskStatus.COMPLETED:
            return "success"
        if detail.status.is_terminal:
            return str(detail.status)
        await asyncio.sleep(poll_interval * random.uniform(0.9, 1.1))


async def _child(pattern: str, base_url: str, waiters: int, poll_interval: float) -> dict[str, Any]:
    import aiohttp
    import httpx

    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE
    from airflow_provider_evolink.models import TaskDetail

    ids = await _create_tasks(base_url, waiters)
    loop = asyncio.get_running_loop()
    probe = _Probe(loop)
    stop = asyncio.Event()
    sampler = asyncio.create_task(probe.sample_lag(stop))
    polls = [0]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    started = time.monotonic()

    if pattern == "trigger":
        coroutines = [_wait_trigger(i, poll_interval, time.time() + 3600, polls) for i in ids]
    elif pattern == "aiohttp-per-poll":

        def per_poll(evolink_task_id: str) -> Any:
            async def poll() -> TaskDetail:
                async with (
                    aiohttp.ClientSession(headers=headers) as session,
                    session.get(f"{base_url}/v1/tasks/{evolink_task_id}") as response,
                ):
                    return TaskDetail.model_validate_json(await response.read())

            return poll

        coroutines = [_poll_loop(per_poll(i), poll_interval, polls) for i in ids]
    else:
        client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_POOL_SIZE),
        )

        def shared(evolink_task_id: str) -> Any:
            async def poll() -> TaskDetail:
                response = await client.get(f"/v1/tasks/{evolink_task_id}")
                return TaskDetail.model_validate_json(response.content)

            return poll

        coroutines = [_poll_loop(shared(i), poll_interval, polls) for i in ids]

    results = await asyncio.gather(*coroutines, return_exceptions=True)
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu_before
    stop.set()
    await sampler
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
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "connections": probe.connections,
        "cpu_s": cpu,
        "client_polls": polls[0],
    }


# ---------------------------------------------------------------------------------------- driver side
def _request_count(base_url: str) -> int:
    import httpx

    return sum(1 for r in httpx.get(f"{base_url}/_emulator/requests").json() if r["path"].startswith("/v1/tasks/"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=2000)
    parser.add_argument("--poll-interval", type=float, default=8.0, help="seconds between polls of one waiter")
    parser.add_argument("--complete-after", type=float, default=20.0, help="emulator processing time, seconds")
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
            {"conn_type": "evolink", "host": args.base_url, "password": API_KEY, "extra": {"max_retries": 5}}
        )
        result = asyncio.run(_child(args.child, args.base_url, args.waiters, args.poll_interval))
        print(json.dumps(result))
        return

    from airflow_provider_evolink.hooks.evolink import ASYNC_POOL_SIZE

    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_evolink.emulator",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--processing-seconds",
            str(args.complete_after),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip().split()[-1]
        results = []
        for pattern in args.patterns.split(","):
            before = _request_count(base_url)
            child = subprocess.run(
                [sys.executable, __file__, "--child", pattern, "--base-url", base_url]
                + ["--waiters", str(args.waiters), "--poll-interval", str(args.poll_interval)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            result["requests"] = _request_count(base_url) - before
            result["cpu_ms_per_poll"] = result["cpu_s"] * 1000 / max(result["requests"], 1)
            results.append(result)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)

    print(
        f"{args.waiters} waiters, {args.poll_interval:g} s polls, tasks complete after {args.complete_after:g} s; "
        f"{os.cpu_count()} cores"
    )
    header = f"{'pattern':<18}{'events':<26}{'wall s':>8}{'lag p50':>9}{'lag p99':>9}{'RSS MB':>8}"
    print(header + f"{'requests':>10}{'TCP conns':>10}{'CPU ms/poll':>12}")
    for r in results:
        events = ", ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"{r['pattern']:<18}{events:<26}{r['wall_s']:>8.1f}{r['lag_p50_ms']:>9.1f}{r['lag_p99_ms']:>9.1f}"
            f"{r['rss_growth_mb']:>8.1f}{r['requests']:>10}{r['connections']:>10}{r['cpu_ms_per_poll']:>12.3f}"
        )
    by = {r["pattern"]: r for r in results}
    if set(by) == set(PATTERNS):
        ours, per_poll, default = by["trigger"], by["aiohttp-per-poll"], by["httpx-default"]
        checks = [
            ("every trigger ends with success", ours["statuses"] == {"success": args.waiters}),
            (f"p99 loop lag {ours['lag_p99_ms']:.1f} ms < 50 ms", ours["lag_p99_ms"] < 50),
            (f"RSS growth {ours['rss_growth_mb']:.1f} MB <= 100 MB", ours["rss_growth_mb"] <= 100),
            (f"TCP connections {ours['connections']} <= pool size {ASYNC_POOL_SIZE}", ours["connections"] <= ASYNC_POOL_SIZE),
            (
                f"CPU/poll {ours['cpu_ms_per_poll']:.3f} ms <= 1.2 x aiohttp-per-poll ({per_poll['cpu_ms_per_poll']:.3f})",
                ours["cpu_ms_per_poll"] <= 1.2 * per_poll["cpu_ms_per_poll"],
            ),
            (
                f"httpx-default/trigger CPU ratio {default['cpu_ms_per_poll'] / ours['cpu_ms_per_poll']:.2f} >= 1.5",
                default["cpu_ms_per_poll"] >= 1.5 * ours["cpu_ms_per_poll"],
            ),
        ]
        print("targets:")
        for text, ok in checks:
            print(f"  {'OK    ' if ok else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
