"""Result download throughput and memory of EvoLinkToStorageOperator, to local disk and into S3 (issues 7, 13).

For each size (default 100 MiB and 1 GiB) an emulator process serves a completed task whose result is a
streamed blob of that size (``--result-size-bytes``). The same result URL is then stored, alternately and
``--repeat`` times each:

* by ``curl -o`` into a temporary folder (the local-disk reference, same machine, same server, same run);
* by the real ``EvoLinkToStorageOperator`` saving to ``file://`` — ``.execute(context)`` with a minimal
  context in a fresh child process (imports done before the clock starts), so the peak RSS growth of that
  process can be measured: resident set size sampled every 10 ms (psutil) and ``ru_maxrss`` afterwards,
  minus the resident set size just before ``execute``;
* with ``--s3`` (default on): by s3fs's own ``put_file`` of the same bytes from local disk into a bucket of
  moto's S3 server (its own process; the S3 reference), and by the operator saving to ``s3://`` on that server
  (download and multipart upload of the final key, completed once the byte count is checked).

The operator runs with its default checksum (CRC32C); ``--sha256`` adds a row for the operator with
``checksum="sha256"`` to local disk, in the same alternation, to show what that opt-in costs (no target).

Printed: median seconds and MiB/s of each, the operator/reference throughput ratios (targets ≥ 0.8) and the
operator's worst peak RSS growth (target ≤ 64 MB, at every size and store: memory flat in file size). Every
stored file is deleted afterwards.

    python benchmarks/download.py [--sizes-mib 100,1024] [--repeat 3] [--dir /tmp] [--no-s3] [--sha256]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
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
TARGET_RATIO = 0.8
S3_BUCKET = "evolink-bench"
S3_CONN_ID = "aws_moto"
S3_CREDENTIALS = {"key": "testing", "secret": "testing"}
#: botocore's read timeout for both S3 clients, in seconds. s3fs's default (15 s) is shorter than moto's
#: CompleteMultipartUpload of 1 GiB (it joins the parts in one Python process): the client gave up, retried,
#: and moto, which had completed and forgotten the upload meanwhile, answered the retry with HTTP 500
#: (``KeyError`` on the upload ID in ``complete_multipart_upload``, seen in moto's log in session 3).
S3_READ_TIMEOUT_S = 300
TARGET_RSS_MB = 64.0
#: The store column of ``--sha256``'s row: the operator with ``checksum="sha256"`` to local disk (no speed target).
SHA256_ROW = "disk sha256"
SAMPLE_SECONDS = 0.01


# ----------------------------------------------------------------------------------------- child side
def _child(base_url: str, evolink_task_id: str, destination: str, profile: str | None, checksum: str) -> dict[str, Any]:
    """Run the real operator once in this (fresh) process and measure it."""
    os.environ["AIRFLOW_CONN_EVOLINK_DEFAULT"] = json.dumps(
        {"conn_type": "evolink", "host": base_url, "password": API_KEY}
    )
    if endpoint := os.environ.get("EVOLINK_BENCH_S3_ENDPOINT"):
        os.environ[f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "aws",
                "login": S3_CREDENTIALS["key"],
                "password": S3_CREDENTIALS["secret"],
                "extra": {
                    "endpoint_url": endpoint,
                    "region_name": "us-east-1",
                    "config_kwargs": {"read_timeout": S3_READ_TIMEOUT_S},
                },
            }
        )
    import gc

    import psutil
    from airflow.sdk.lineage import get_hook_lineage_collector

    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    # A task process has loaded Airflow's plugins (listeners, lineage readers) before execute() runs; the
    # first ObjectStoragePath.move() here would load them inside the clock (over a second).
    get_hook_lineage_collector()
    # A task process is forked from the supervisor, so its module (which the first connection lookup imports,
    # ~36 ms) is already loaded too.
    import airflow.sdk.execution_time.supervisor  # noqa: F401

    if destination.startswith("s3://"):
        # Likewise the S3 client: botocore's models are tens of MB the first time, in any task that uses S3,
        # whatever it stores; this measures what storing the result adds.
        from airflow.sdk import ObjectStoragePath

        ObjectStoragePath(destination).exists()
    operator = EvoLinkToStorageOperator(
        task_id="store_result",
        evolink_task_id=evolink_task_id,
        destination=destination,
        overwrite=True,
        checksum=checksum,  # type: ignore[arg-type]
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


def _operator(
    base_url: str, task_id: str, destination: str, profile: str | None, env: dict[str, str], checksum: str = "crc32c"
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", task_id, "--base-url", base_url, "--dir", destination]
    command += ["--checksum", checksum]
    if profile:
        command += ["--profile", profile]
    child = subprocess.run(command, capture_output=True, text=True, env=env)
    if child.returncode != 0:
        sys.stderr.write(child.stderr[-5000:] + child.stdout[-5000:])
        raise SystemExit(f"the operator child failed (exit {child.returncode})")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


class _S3:
    """moto's S3 server in its own process, a bucket on it, and s3fs pointed at it (the S3 reference)."""

    def __init__(self) -> None:
        import boto3
        import s3fs

        with socket.socket() as probe:  # a free port for the server (it cannot report one it picked itself)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        options = {"endpoint_url": self.endpoint, "region_name": "us-east-1"}
        self.client = boto3.client(
            "s3",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **options,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client.create_bucket(Bucket=S3_BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.2)
        self.fs = s3fs.S3FileSystem(
            **S3_CREDENTIALS, client_kwargs=options, config_kwargs={"read_timeout": S3_READ_TIMEOUT_S}
        )

    def put_file(self, local: Path, size: int) -> float:
        """Seconds s3fs's ``put_file`` takes to store ``local`` (deleted from the bucket afterwards)."""
        started = time.monotonic()
        self.fs.put_file(str(local), f"{S3_BUCKET}/reference.bin")
        seconds = time.monotonic() - started
        self._check_and_empty(size, 1)
        return seconds

    def _check_and_empty(self, size: int, count: int) -> None:
        objects = self.client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])
        if len(objects) != count or any(item["Size"] != size for item in objects):
            raise SystemExit(f"S3 holds {[(o['Key'], o['Size']) for o in objects]}, not {count} x {size} bytes")
        for item in objects:
            self.client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])

    def close(self) -> None:
        self._server.terminate()
        self._server.wait(timeout=10)


def _measure(
    size: int, repeat: int, scratch: Path, profile: str | None, s3: _S3 | None, sha256: bool
) -> dict[str, Any]:
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
    put_s: list[float] = []
    runs: list[dict[str, Any]] = []
    sha256_runs: list[dict[str, Any]] = []
    s3_runs: list[dict[str, Any]] = []
    env = _child_env()
    kinds = ["curl", "operator"] + (["operator-sha256"] if sha256 else []) + (["put_file", "operator-s3"] if s3 else [])
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip().split()[-1]
        task_id, url = _completed_task(base_url)
        # One discarded download first: the first large write after a while runs slower (the kernel and, in
        # a VM, the hypervisor hand out fresh pages), and that should not fall on whichever runs first.
        _curl(url, scratch / "warm-up.bin", size)
        if s3:
            env["EVOLINK_BENCH_S3_ENDPOINT"] = s3.endpoint
            subprocess.run(["curl", "--silent", "--fail", "-o", str(scratch / "local.bin"), url], check=True)
        for number in range(repeat):
            # Alternate the order, so none always meets another's writeback.
            for kind in kinds if number % 2 == 0 else kinds[::-1]:
                if kind == "curl":
                    curl_s.append(_curl(url, scratch / "curl.bin", size))
                elif kind == "put_file" and s3:
                    put_s.append(s3.put_file(scratch / "local.bin", size))
                elif kind == "operator-s3" and s3:
                    prof = profile and f"{profile}-s3-{size >> 20}MiB.prof"
                    s3_runs.append(_operator(base_url, task_id, f"s3://{S3_CONN_ID}@{S3_BUCKET}/op", prof, env))
                    s3._check_and_empty(size, 1)
                else:
                    folder = scratch / "operator"
                    checksum = "sha256" if kind == "operator-sha256" else "crc32c"
                    prof = profile and f"{profile}-{checksum}-{size >> 20}MiB.prof"
                    (sha256_runs if checksum == "sha256" else runs).append(
                        _operator(base_url, task_id, folder.as_uri(), prof, env, checksum)
                    )
                    saved = [folder / name for name in os.listdir(folder)]
                    if len(saved) != 1 or saved[0].stat().st_size != size:
                        raise SystemExit(f"the operator left {[(p.name, p.stat().st_size) for p in saved]}, not 1")
                    shutil.rmtree(folder)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        (scratch / "local.bin").unlink(missing_ok=True)
    rows = [("local disk", "curl -o", curl_s, runs)]
    if sha256:
        rows.append((SHA256_ROW, "curl -o", curl_s, sha256_runs))
    if s3:
        rows.append(("S3 (moto)", "s3fs put_file", put_s, s3_runs))
    return {
        "size": size,
        "rows": [
            {
                "store": store,
                "reference": reference,
                "reference_s": statistics.median(reference_s),
                "operator_s": statistics.median(r["seconds"] for r in op_runs),
                "operator_cpu_s": statistics.median(r["cpu_s"] for r in op_runs),
                "rss_growth_mb": max(r["rss_growth_mb"] for r in op_runs),
            }
            for store, reference, reference_s, op_runs in rows
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="100,1024", help="result sizes in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="downloads of each kind per size (median)")
    parser.add_argument("--dir", help="where the downloads go (default: the system temp folder)")
    parser.add_argument("--profile", help="write a cProfile of the operator's execute() to this file")
    parser.add_argument("--s3", action=argparse.BooleanOptionalAction, default=True, help="also store into S3")
    parser.add_argument("--s3-sizes-mib", help="the sizes also stored into S3 (default: every size)")
    parser.add_argument("--sha256", action="store_true", help="also the operator with checksum='sha256' to disk")
    parser.add_argument("--checksum", default="crc32c", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args.base_url, args.child, args.dir, args.profile, args.checksum)))
        return

    if shutil.which("curl") is None:
        raise SystemExit("curl is needed as the reference downloader")
    load_before = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    scratch = Path(tempfile.mkdtemp(prefix="evolink-download-bench-", dir=args.dir))
    s3 = _S3() if args.s3 else None
    try:
        sizes = [int(mib) << 20 for mib in args.sizes_mib.split(",")]
        s3_sizes = {int(mib) << 20 for mib in args.s3_sizes_mib.split(",")} if args.s3_sizes_mib else set(sizes)
        results = [
            _measure(size, args.repeat, scratch, args.profile, s3 if size in s3_sizes else None, args.sha256)
            for size in sizes
        ]
    finally:
        if s3:
            s3.close()
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = " / ".join(f"{value:.2f}" for value in os.getloadavg())

    print(
        f"download: emulator blob -> EvoLinkToStorageOperator vs a reference per store, median of {args.repeat}; "
        f"{os.cpu_count()} cores; load avg before {load_before}, after {load_after}"
    )
    header = f"{'size':>9}  {'store':<12}{'reference':<15}{'ref s':>7}{'ref MiB/s':>10}{'op s':>7}{'op MiB/s':>9}"
    print(header + f"{'op CPU s':>9}{'op/ref':>8}{'RSS MB':>8}")
    checks = []
    for result in results:
        mib = result["size"] / 2**20
        for r in result["rows"]:
            ratio = r["reference_s"] / r["operator_s"]
            print(
                f"{mib:>5.0f} MiB  {r['store']:<12}{r['reference']:<15}{r['reference_s']:>7.2f}"
                f"{mib / r['reference_s']:>10.0f}{r['operator_s']:>7.2f}{mib / r['operator_s']:>9.0f}"
                f"{r['operator_cpu_s']:>9.2f}{ratio:>8.2f}{r['rss_growth_mb']:>8.1f}"
            )
            if r["store"] != SHA256_ROW:  # the opt-in's row shows its cost; the target is the default's
                checks.append(
                    (
                        f"{mib:.0f} MiB, {r['store']}: throughput {ratio:.2f} x {r['reference']}'s >= {TARGET_RATIO}",
                        ratio >= TARGET_RATIO,
                    )
                )
            checks.append(
                (
                    f"{mib:.0f} MiB, {r['store']}: peak RSS growth {r['rss_growth_mb']:.1f} MB "
                    f"<= {TARGET_RSS_MB:.0f} MB",
                    r["rss_growth_mb"] <= TARGET_RSS_MB,
                )
            )
    print("targets:")
    for text, ok in checks:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
