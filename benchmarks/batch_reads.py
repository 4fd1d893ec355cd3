"""Shared batch reads in the triggerer at 1 to 10,000 concurrent waits (issue 30): requests, CPU, memory, lost events.

For each number of concurrent waits (``--waits``, default 1, 50, 1,000 and 10,000) the emulator runs here on a
background thread and a fresh child process (``trigger_scale.py``'s child) creates that many tasks and waits for all
of them in one event loop, as one triggerer does, side by side:

* ``trigger-fixed``: a read every ``poll_interval`` ± 10 %, one ``GET`` per wait per read (``batch_reads: off``);
* ``trigger-single``: today's paced single reads (progress and ``estimated_time``; ``batch_reads: off``);
* ``trigger``: paced reads shared through the coalescer, up to 50 tasks per ``POST /v1/tasks/batch`` (the default);
* ``aiohttp-per-poll`` at ``--anchor-waits`` only: an ``aiohttp.ClientSession`` per poll, the CPU anchor.

The single-read patterns run up to ``--single-up-to`` waits (default 1,000: 10,000 waits reading alone overload a
2-core machine's emulator and measure that, not the provider). Renders are time-scaled as in ``trigger_scale.py``
(Kling's ~300 s estimate and EvoLink's 8 s pace become 30 s and 0.8 s at ``--time-scale 0.1``), near their estimate,
progress linear. Printed per run: events (and events lost: waits that fired none), HTTP requests per generation
(single GETs plus batch POSTs: what EvoLink's rate limit counts), task reads per generation (each task a batch call
read counts: what EvoLink's upstream queries count), CPU per generation and per task read, memory per trigger (peak
RSS less the RSS before the triggers were built, per wait), loop lag p99, TCP connections opened, detection delay
p95. Targets are printed beside them (issue 30): requests per generation <= 1.0 at >= 50 waits and no more than the
paced single reads for one wait; detection p95 within 1.1x the paced single reads'; at the largest count loop lag
p99 < 50 ms, RSS growth < 200 MB, <= 16 connections, 0 events lost; CPU per generation <= 0.1x the
aiohttp-session-per-poll baseline on the fixed schedule (its CPU per read at ``--anchor-waits`` times the schedule's
reads).

With ``--generations-per-wait K`` (K > 1) each run is a pipeline that keeps that many waits in flight: a wait that
ends creates the next task and waits for it, until K generations per wait have run; the figures are per generation.
A single cohort started together (K = 1) is not that many concurrent waits for long: its last renders finish alone.

    python benchmarks/batch_reads.py [--waits 1,50,1000,10000] [--single-up-to 1000] [--time-scale 0.1]
    python benchmarks/batch_reads.py --waits 50 --generations-per-wait 6 --patterns trigger-single,trigger
    python benchmarks/batch_reads.py --waits 10000 --patterns trigger     # one run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import trigger_scale

SINGLE_PATTERNS = ("trigger-fixed", "trigger-single")
BATCHED = "trigger"
ANCHOR = "aiohttp-per-poll"
#: What a wait's one event may say; anything else in a run's tallies is a wait that fired none.
EVENT_STATUSES = ("success", "failed", "cancelled", "timeout", "error")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", default="1,50,1000,10000", help="numbers of concurrent waits, comma-separated")
    parser.add_argument("--single-up-to", type=int, default=1000, help="most waits the single-read patterns run")
    parser.add_argument("--anchor-waits", type=int, default=1000, help="waits of the aiohttp-per-poll anchor run")
    parser.add_argument("--time-scale", type=float, default=0.1, help="real seconds per modelled second")
    parser.add_argument("--poll-interval", type=float, default=8.0, help="poll_interval, modelled seconds")
    parser.add_argument("--estimate", type=float, default=300.0, help="estimated_time, modelled seconds")
    parser.add_argument("--spread", type=float, default=0.25, help="log-normal spread of render times")
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument(
        "--generations-per-wait", type=int, default=1, help="> 1: keep the waits in flight for this many rounds"
    )
    parser.add_argument("--patterns", default=",".join((*SINGLE_PATTERNS, BATCHED, ANCHOR)), help="which to run")
    args = parser.parse_args()

    from airflow_provider_evolink.emulator import EvoLinkEmulator

    poll = args.poll_interval * args.time_scale
    # An untyped model: the emulator skips request validation, so creating 10,000 tasks takes seconds.
    env = {**trigger_scale._child_env(), trigger_scale._MODEL_VARIABLE: "bench-untyped-video-model"}
    load_before = trigger_scale._load()
    scratch = Path(tempfile.mkdtemp(prefix="evolink-batch-bench-"))
    results: list[dict[str, Any]] = []
    try:
        for waits in (int(n) for n in args.waits.split(",")):
            patterns = [p for p in SINGLE_PATTERNS if waits <= args.single_up_to] + [BATCHED]
            if waits == args.anchor_waits:
                patterns.append(ANCHOR)
            patterns = [p for p in patterns if p in args.patterns.split(",")]
            emulator = EvoLinkEmulator(
                api_key=trigger_scale.API_KEY,
                processing_seconds=args.estimate * args.time_scale,
                processing_spread=args.spread,
                progress_mode="linear",
                seed=args.seed,
                fetch_inputs=False,
                accept_any_model=True,
            )
            generations = waits * max(args.generations_per_wait, 1)
            run_args = argparse.Namespace(waiters=waits, profile=None, generations=generations)
            with emulator:
                for pattern in patterns:
                    result = trigger_scale._run_pattern(pattern, emulator, run_args, poll, scratch, env)
                    fired = sum(n for status, n in result["statuses"].items() if status in EVENT_STATUSES)
                    result.update(waits=waits, lost=generations - fired)
                    results.append(result)
                    print(_row(result), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"batch_reads: time scale {args.time_scale:g} (poll_interval {args.poll_interval:g} s -> {poll:g} s, "
        f"estimated_time {args.estimate:g} s -> {args.estimate * args.time_scale:g} s), spread {args.spread:g}, "
        f"{args.generations_per_wait} generation(s) per wait; "
        f"{os.cpu_count()} cores; load avg before {load_before}, after {trigger_scale._load()}"
    )
    print(HEAD)
    for result in results:
        print(_row(result))
    _targets(results, poll)


HEAD = (
    f"{'waits':>6} {'pattern':<17}{'events':<22}{'lost':>5}{'req/gen':>8}{'reads/gen':>10}{'CPU ms/gen':>11}"
    f"{'CPU ms/read':>12}{'KB/trigger':>11}{'RSS MB':>7}{'lag p99':>8}{'conns':>6}{'det p95 s':>10}"
)


def _row(r: dict[str, Any]) -> str:
    events = ", ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))
    return (
        f"{r['waits']:>6} {r['pattern']:<17}{events:<22}{r['lost']:>5}{r['requests_per_gen']:>8.2f}"
        f"{r['reads_per_gen']:>10.2f}{r['cpu_ms_per_gen']:>11.2f}{r['cpu_ms_per_read']:>12.3f}"
        f"{r['rss_per_wait_kb']:>11.1f}{r['rss_growth_mb']:>7.1f}{r['lag_p99_ms']:>8.1f}{r['connections']:>6}"
        f"{r['detect_p95_s']:>10.2f}"
    )


def _targets(results: list[dict[str, Any]], poll: float) -> None:
    def find(waits: int, pattern: str) -> dict[str, Any] | None:
        return next((r for r in results if r["waits"] == waits and r["pattern"] == pattern), None)

    checks: list[tuple[str, bool]] = []
    for batched in (r for r in results if r["pattern"] == BATCHED):
        waits, single = batched["waits"], find(batched["waits"], "trigger-single")
        if waits >= 50:
            checks.append(
                (
                    f"{waits} waits: {batched['requests_per_gen']:.2f} requests/gen <= 1.0",
                    batched["requests_per_gen"] <= 1,
                )
            )
        if single is not None:
            if waits == 1:
                checks.append(
                    (
                        f"1 wait: {batched['requests_per_gen']:.2f} requests/gen <= paced single reads' "
                        f"{single['requests_per_gen']:.2f}",
                        batched["requests_per_gen"] <= single["requests_per_gen"],
                    )
                )
            checks.append(
                (
                    f"{waits} waits: detection p95 {batched['detect_p95_s']:.2f} s <= 1.1 x paced single reads' "
                    f"{single['detect_p95_s']:.2f} s (ratio {batched['detect_p95_s'] / single['detect_p95_s']:.2f}; "
                    f"{batched['detect_p95_s'] / poll:.2f} x poll_interval)",
                    batched["detect_p95_s"] <= 1.1 * single["detect_p95_s"],
                )
            )
        checks.append((f"{waits} waits: events lost {batched['lost']} == 0", batched["lost"] == 0))
    if batched_rows := [r for r in results if r["pattern"] == BATCHED]:
        largest = max(batched_rows, key=lambda r: r["waits"])
        n = largest["waits"]
        checks += [
            (f"{n} waits: loop lag p99 {largest['lag_p99_ms']:.1f} ms < 50 ms", largest["lag_p99_ms"] < 50),
            (f"{n} waits: RSS growth {largest['rss_growth_mb']:.1f} MB < 200 MB", largest["rss_growth_mb"] < 200),
            (f"{n} waits: TCP connections opened {largest['connections']} <= 16", largest["connections"] <= 16),
        ]
        if (anchor := next((r for r in results if r["pattern"] == ANCHOR), None)) is not None:
            paced = anchor["cpu_ms_per_read"] * anchor["schedule_reads_per_gen"]
            checks.append(
                (
                    f"{n} waits: CPU/gen {largest['cpu_ms_per_gen']:.3f} ms <= 0.1 x aiohttp-per-poll's on the fixed "
                    f"schedule, {anchor['cpu_ms_per_read']:.3f} ms x {anchor['schedule_reads_per_gen']:.1f} reads = "
                    f"{paced:.2f} ms (ratio {largest['cpu_ms_per_gen'] / paced:.3f})",
                    largest["cpu_ms_per_gen"] <= 0.1 * paced,
                )
            )
    ratios = [r["requests_per_gen"] for r in results if r["pattern"] == BATCHED and r["waits"] >= 50]
    if ratios:
        print(f"mean requests/gen of batched reads at >= 50 waits: {statistics.mean(ratios):.3f}")
    print("targets (issue 30):")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
