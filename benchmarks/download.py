"""Result download throughput and memory of EvoLinkToStorageOperator (issue 7, benchmark 2).

For each size (default 100 MiB and 1 GiB) an emulator process serves a completed task whose result is a
streamed blob of that size (``--result-size-bytes``). The same result URL is then downloaded, alternately
and ``--repeat`` times each:

* by ``curl -o`` into a temporary folder (the line-rate reference, same machine, same server, same run);
* by the real ``EvoLinkToStorageOperator`` saving to ``file://`` — ``.execute(context)`` with a minimal
  context in a fresh child process (imports done before the clock starts), so the peak RSS growth of that
  process can be measured: resident set size sampled every 10 ms (psutil) and ``ru_maxrss`` afterwards,
  minus the resident set size just before ``execute``.

Printed: median seconds and MiB/s of each, the operator/curl throughput ratio (target ≥ 0.5) and the
operator's worst peak RSS growth (target ≤ 64 MB, at every size: memory flat in file size). Every
downloaded file is deleted afterwards.

    python benchmarks/download.py [--sizes-mib 100,1024] [--repeat 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

API_KEY = "sk-bench"
TARGET_RATIO = 0.5
TARGET_RSS_MB = 64.0
SAMPLE_SECONDS = 0.01


# ----------------------------------------------------------------------------------------- child side
def _child(base_url: str, evolink_task_id: str, destination: str, profile: str | None) -> dict[str, Any]:
    """Run the real operator once in this (fresh) process and measure it."""
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {"conn_type": "evolink", "host": base_url, "password": API_KEY}
    )
    import gc

    import psutil
    from airflow.sdk.lineage import get_hook_lineage_collector

    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    # A task process has loaded Airflow's plugins (listeners, lineage readers) before execute() runs; the
    # first ObjectStoragePath.move() here would load them inside the clock (over a second).
    get_hook_lineage_collector()
    operator = EvoLinkToStorageOperator(
        task_id="store_result", evolink_task_id=evolink_task_id, destination=destination, overwrite=True
    )
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = [rss_before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    cpu_before = os.times()
    started = time.monotonic()
    # Outlets are empty, so execute() reads nothing from the context.
    uris = operator.execute({})  # type: ignore[arg-type]
    seconds = time.monotonic() - started
    cpu_after = os.times()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    done.set()
    sampler.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if maxrss_after > maxrss_before:  # the kernel's own peak, in case a spike fell between two samples
        peak[0] = max(peak[0], maxrss_after)
    return {
        "uris": uris,
        "seconds": seconds,
        "cpu_s": (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system),
        "rss_growth_mb": (peak[0] - rss_before) / 1e6,
    }


# ---------------------------------------------------------------------------------------- driver side
def _child_env() -> dict[str, str]:
    """The environment of the children: with a bytecode cache, so each starts in seconds, not tens."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "airflow-provider-evolink-bench-pycache"))
    return env


def _api(base_url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own loopback emulator
        base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own loopback emulator
        return dict(json.loads(response.read()))


def _completed_task(base_url: str) -> tuple[str, str]:
    """Create a task on the emulator and wait for it: (task ID, result URL)."""
    body = {
        "model": "kling-o3-reference-to-video",
        "prompt": "download benchmark",
        "video_url": f"{base_url}/samples/reference.mp4",
        "duration": 3,
    }
    task_id = str(_api(base_url, "/v1/videos/generations", body)["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        detail = _api(base_url, f"/v1/tasks/{task_id}")
        if detail["status"] == "completed":
            return task_id, str(detail["results"][0])
        time.sleep(0.2)
    raise SystemExit(f"task {task_id} did not complete")


def _curl(url: str, target: Path, size: int) -> float:
    """Seconds ``curl -o`` takes to save ``url`` to ``target`` (a new file, deleted afterwards)."""
    started = time.monotonic()
    subprocess.run(["curl", "--silent", "--show-error", "--fail", "-o", str(target), url], check=True)
    seconds = time.monotonic() - started
    if target.stat().st_size != size:
        raise SystemExit(f"curl saved {target.stat().st_size} bytes, expected {size}")
    target.unlink()
    return seconds


def _operator(base_url: str, task_id: str, folder: Path, profile: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", task_id, "--base-url", base_url, "--dir", folder.as_uri()]
    if profile:
        command += ["--profile", profile]
    child = subprocess.run(command, capture_output=True, text=True, env=_child_env())
    if child.returncode != 0:
        sys.stderr.write(child.stderr[-5000:] + child.stdout[-5000:])
        raise SystemExit(f"the operator child failed (exit {child.returncode})")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def _measure(size: int, repeat: int, scratch: Path, profile: str | None) -> dict[str, Any]:
    emulator = subprocess.Popen(
        [
            *(sys.executable, "-m", "airflow_provider_evolink.emulator", "--port", "0", "--api-key", API_KEY),
            *("--processing-seconds", "0.1", "--result-size-bytes", str(size)),
            # Inputs are not what this measures: the emulator's fetch of each task's sample input stays out of it.
            "--no-fetch-inputs",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    curl_s: list[float] = []
    runs: list[dict[str, Any]] = []
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip().split()[-1]
        task_id, url = _completed_task(base_url)
        # One discarded download first: the first large write after a while runs slower (the kernel and, in
        # a VM, the hypervisor hand out fresh pages), and that should not fall on whichever runs first.
        _curl(url, scratch / "warm-up.bin", size)
        for number in range(repeat):
            # Alternate which goes first, so neither always meets the other's writeback.
            for kind in ("curl", "operator") if number % 2 == 0 else ("operator", "curl"):
                if kind == "curl":
                    curl_s.append(_curl(url, scratch / "curl.bin", size))
                    continue
                folder = scratch / "operator"
                runs.append(_operator(base_url, task_id, folder, profile and f"{profile}-{size >> 20}MiB.prof"))
                saved = [folder / name for name in os.listdir(folder)]
                if len(saved) != 1 or saved[0].stat().st_size != size:
                    raise SystemExit(f"the operator left {[(p.name, p.stat().st_size) for p in saved]}, not 1 file")
                shutil.rmtree(folder)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return {
        "size": size,
        "curl_s": statistics.median(curl_s),
        "operator_s": statistics.median(r["seconds"] for r in runs),
        "operator_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "rss_growth_mb": max(r["rss_growth_mb"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="100,1024", help="result sizes in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="downloads of each kind per size (median)")
    parser.add_argument("--dir", help="where the downloads go (default: the system temp folder)")
    parser.add_argument("--profile", help="write a cProfile of the operator's execute() to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args.base_url, args.child, args.dir, args.profile)))
        return

    if shutil.which("curl") is None:
        raise SystemExit("curl is needed as the reference downloader")
    load_before = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    scratch = Path(tempfile.mkdtemp(prefix="evolink-download-bench-", dir=args.dir))
    try:
        results = [_measure(int(mib) << 20, args.repeat, scratch, args.profile) for mib in args.sizes_mib.split(",")]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = " / ".join(f"{value:.2f}" for value in os.getloadavg())

    print(
        f"download: emulator blob -> EvoLinkToStorageOperator (file://) vs curl -o, median of {args.repeat}; "
        f"{os.cpu_count()} cores; load avg before {load_before}, after {load_after}"
    )
    header = f"{'size':>9}{'curl s':>8}{'curl MiB/s':>11}{'op s':>8}{'op MiB/s':>10}"
    print(header + f"{'op CPU s':>9}{'op/curl':>9}{'RSS MB':>8}")
    checks = []
    for r in results:
        mib = r["size"] / 2**20
        ratio = r["curl_s"] / r["operator_s"]
        print(
            f"{mib:>5.0f} MiB{r['curl_s']:>8.2f}{mib / r['curl_s']:>11.0f}{r['operator_s']:>8.2f}"
            f"{mib / r['operator_s']:>10.0f}{r['operator_cpu_s']:>9.2f}{ratio:>9.2f}{r['rss_growth_mb']:>8.1f}"
        )
        checks.append((f"{mib:.0f} MiB: throughput {ratio:.2f} x curl's >= {TARGET_RATIO}", ratio >= TARGET_RATIO))
        checks.append(
            (
                f"{mib:.0f} MiB: peak RSS growth {r['rss_growth_mb']:.1f} MB <= {TARGET_RSS_MB:.0f} MB",
                r["rss_growth_mb"] <= TARGET_RSS_MB,
            )
        )
    print("targets:")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
