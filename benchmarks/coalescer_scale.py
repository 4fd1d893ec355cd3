"""10,000 EvoLink waits in one event loop, the provider's own cost only (issue 30): CPU per task read, memory per
trigger, loop lag, requests and events lost, with the HTTP layer replaced by an in-process stand-in.

``batch_reads.py`` measures waits against the emulator over HTTP; at 10,000 waits on a 2-core machine the emulator
(a thread of the driver) is what saturates first. Here every ``EvoLinkTaskTrigger`` runs for real (pacing, the
coalescer, events), but ``EvoLinkHook.aread_tasks`` / ``aget_task`` answer from a table of render times in the same
process, after a ``--latency`` sleep: what grows with the number of waits in the provider (timers, tasks, futures,
trigger objects) is what is measured. Renders are time-scaled as in ``trigger_scale.py`` (``--time-scale
0.05``: estimate 300 s → 15 s, ``poll_interval`` 8 s → 0.4 s), log-normal spread 0.25, progress linear.

Printed beside the targets: events lost == 0, loop lag p99 < 50 ms, RSS growth < 200 MB, and, for reference, CPU per
generation and per task read, KB per trigger, requests per generation.

    python benchmarks/coalescer_scale.py [--waits 10000] [--batch-reads auto|off] [--time-scale 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import time
from typing import Any

EVENT_STATUSES = ("success", "failed", "cancelled", "timeout", "error")


def _install_stand_in(done_at: dict[str, float], created: float, latency: float, counts: dict[str, int]) -> None:
    from airflow_provider_evolink.hooks.evolink import EvoLinkHook
    from airflow_provider_evolink.models import TaskDetail

    def detail(task_id: str) -> TaskDetail:
        now = time.time()
        end = done_at[task_id]
        if now >= end:
            return TaskDetail.model_validate(
                {"id": task_id, "status": "completed", "progress": 100, "created": int(created), "results": ["r"]}
            )
        progress = max(1, min(99, int(100 * (now - created) / (end - created))))
        return TaskDetail.model_validate(
            {"id": task_id, "status": "processing", "progress": progress, "created": int(created)}
        )

    async def aread_tasks(self: EvoLinkHook, ids: list[str]) -> dict[str, TaskDetail]:
        counts["requests"] += 1
        counts["task_reads"] += len(ids)
        await asyncio.sleep(latency)
        return {task_id: detail(task_id) for task_id in ids}

    async def aget_task(self: EvoLinkHook, evolink_task_id: str) -> TaskDetail:
        counts["requests"] += 1
        counts["task_reads"] += 1
        await asyncio.sleep(latency)
        return detail(evolink_task_id)

    EvoLinkHook.aread_tasks = aread_tasks  # type: ignore[method-assign]
    EvoLinkHook.aget_task = aget_task  # type: ignore[method-assign]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    from airflow_provider_evolink.triggers.evolink import EvoLinkTaskTrigger

    process = psutil.Process()
    estimate = 300.0 * args.time_scale
    poll = 8.0 * args.time_scale
    created = time.time()
    rng = random.Random(args.seed)
    ids = [f"task-unified-{int(created)}-{n:08d}" for n in range(args.waits)]
    done_at = {task_id: created + estimate * rng.lognormvariate(0.0, 0.25) for task_id in ids}
    counts = {"requests": 0, "task_reads": 0}
    _install_stand_in(done_at, created, args.latency, counts)
    gc.collect()
    rss_before = process.memory_info().rss
    triggers = [
        EvoLinkTaskTrigger(task_id, "evolink_default", poll, created + 3600, estimated_time=estimate) for task_id in ids
    ]
    events: dict[str, float] = {}
    statuses: dict[str, int] = {}
    lags: list[float] = []
    peak = [process.memory_info().rss]
    stop = asyncio.Event()

    async def wait(trigger: EvoLinkTaskTrigger) -> None:
        async for event in trigger.run():
            statuses[event.payload["status"]] = statuses.get(event.payload["status"], 0) + 1
            events[trigger.evolink_task_id] = time.time()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        count = 0
        while not stop.is_set():
            start = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - start - 0.01)
            count += 1
            if count % 5 == 0:
                peak[0] = max(peak[0], process.memory_info().rss)

    sampler = asyncio.create_task(probe())
    cpu = os.times()
    await asyncio.gather(*(wait(trigger) for trigger in triggers))
    after = os.times()
    stop.set()
    await sampler
    cpu_s = (after.user - cpu.user) + (after.system - cpu.system)
    delays = sorted(events[task_id] - done_at[task_id] for task_id in events)
    lags.sort()
    return {
        "waits": args.waits,
        "batch_reads": args.batch_reads,
        "statuses": statuses,
        "lost": args.waits - sum(n for status, n in statuses.items() if status in EVENT_STATUSES),
        "requests_per_gen": counts["requests"] / args.waits,
        "reads_per_gen": counts["task_reads"] / args.waits,
        "cpu_ms_per_gen": cpu_s * 1000 / args.waits,
        "cpu_ms_per_read": cpu_s * 1000 / max(counts["task_reads"], 1),
        "kb_per_trigger": (peak[0] - rss_before) / 1e3 / args.waits,
        "rss_growth_mb": (peak[0] - rss_before) / 1e6,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else float("nan"),
        "detect_p95_s": delays[int(len(delays) * 0.95)] if delays else float("nan"),
        "poll_s": poll,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=10_000)
    parser.add_argument("--batch-reads", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds each stand-in request takes")
    parser.add_argument("--seed", type=int, default=30)
    args = parser.parse_args()
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {
            "conn_type": "evolink",
            "host": "http://127.0.0.1:9",
            "password": "sk-bench",
            "extra": {"batch_reads": args.batch_reads},
        }
    )
    from airflow_provider_evolink.models import TaskDetail

    TaskDetail.model_validate_json('{"id": "task-unified-warm-up", "status": "pending"}')  # built before the clock
    r = asyncio.run(_run(args))
    print(
        f"coalescer_scale: {r['waits']} waits, batch_reads {r['batch_reads']}, poll_interval {r['poll_s']:g} s, "
        f"{os.cpu_count()} cores, load avg {' / '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(
        f"  events {r['statuses']}, lost {r['lost']}; requests/gen {r['requests_per_gen']:.3f}, task reads/gen "
        f"{r['reads_per_gen']:.2f}; CPU {r['cpu_ms_per_gen']:.3f} ms/gen, {r['cpu_ms_per_read']:.4f} ms/read; "
        f"{r['kb_per_trigger']:.2f} KB/trigger; "
        f"detection p95 {r['detect_p95_s']:.2f} s ({r['detect_p95_s'] / r['poll_s']:.2f} x poll_interval)"
    )
    checks = [
        (f"events lost {r['lost']} == 0", r["lost"] == 0),
        (f"loop lag p99 {r['lag_p99_ms']:.1f} ms < 50 ms", r["lag_p99_ms"] < 50),
        (f"RSS growth {r['rss_growth_mb']:.1f} MB < 200 MB", r["rss_growth_mb"] < 200),
    ]
    print("targets (issue 30, the provider's own share):")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
