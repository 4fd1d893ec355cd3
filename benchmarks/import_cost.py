"""Import cost of what a DAG file imports from the provider (issue 7, benchmark 3; issue 34).

Runs fresh interpreters with ``python -X importtime`` that first import ``airflow.sdk`` and then what a DAG file
imports (the generate operator, the sensor, the transfer, the upload operator). Sums the *self* times of the
modules that only the provider's imports added — the parse-time cost a DAG file pays for using the provider — and
prints the median of several runs beside the target (≤ 20 ms), split into the provider's own modules and the
third-party/Airflow modules they pulled in, and the five largest modules. It does so twice: with the catalogue as
shipped, and with a copy of the package whose catalogue holds 200 synthetic models (so growth of the catalogue
would show). Fails if the emulator, PyAV, FastAPI, Starlette or uvicorn is among the modules.

Bytecode: an installed provider has ``.pyc`` files (pip compiles them), so the children run with a bytecode
cache (``PYTHONPYCACHEPREFIX`` in the temp folder, even where ``PYTHONDONTWRITEBYTECODE`` is set) and one
discarded warm-up run fills it; otherwise every run would time the compiler, not the imports.

    python benchmarks/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import airflow_provider_evolink

BASELINE = ["airflow.sdk"]
PROVIDER = [
    "airflow_provider_evolink.operators.evolink",
    "airflow_provider_evolink.sensors.evolink",
    "airflow_provider_evolink.transfers.evolink_to_storage",
    "airflow_provider_evolink.operators.files",
]
OWN_PREFIX = "airflow_provider_evolink"
FORBIDDEN = ("airflow_provider_evolink.emulator", "av", "fastapi", "starlette", "uvicorn")
TARGET_MS = 20.0
SYNTHETIC_MODELS = 200
MARKER = "--- provider imports start ---"
REFERENCE = "reference loop ms:"


def _env(package_root: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "airflow-provider-evolink-bench-pycache")
    if package_root is not None:  # a copy of the package found before the installed one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(package_root), env.get("PYTHONPATH"))))
    return env


def synthetic_package(root: Path) -> Path:
    """A copy of the provider package under ``root`` whose catalogue holds :data:`SYNTHETIC_MODELS` models (the
    shipped entries repeated under new ids); the same code, a larger catalogue."""
    source = Path(airflow_provider_evolink.__file__).parent
    copy = root / "airflow_provider_evolink"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / "api_reference" / "catalogue.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    shipped = list(document["models"].values())
    document["models"] = {
        f"synthetic-video-model-{index:03d}": shipped[index % len(shipped)] for index in range(SYNTHETIC_MODELS)
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return root


def one_run(package_root: Path | None = None) -> tuple[float, list[tuple[float, str]]]:
    """One fresh interpreter: the reference loop's ms, and (self ms, module) for every module the provider
    imports added."""
    code = "import gc, sys\n"
    code += "".join(f"import {name}\n" for name in BASELINE)
    # Freeze what the baseline left: a full collection over Airflow's heap (~15 ms) would otherwise land on
    # whichever provider module happens to cross the collector's threshold, in some runs and not others.
    code += "gc.collect()\ngc.freeze()\n"
    # A fixed pure-Python loop timed in the same interpreter: this VM's speed drifts by a third from minute to
    # minute, and this shows how fast the machine was while the imports were timed.
    code += "import time\nt = time.perf_counter()\nsum(range(10**6))\n"
    code += f"sys.stderr.write(f'{REFERENCE} {{(time.perf_counter() - t) * 1000:.3f}}\\n{MARKER}\\n')\n"
    code += "".join(f"import {name}\n" for name in PROVIDER)
    code += "print(airflow_provider_evolink.__file__)\n"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=_env(package_root),
        cwd=package_root or tempfile.gettempdir(),  # not the checkout: ``-c`` puts the working directory first
    )
    if package_root is not None and not result.stdout.strip().startswith(str(package_root)):
        raise SystemExit(f"FAIL: the synthetic copy was not imported ({result.stdout.strip()})")
    before, found, added = result.stderr.partition(MARKER + "\n")
    if not found:
        raise SystemExit(f"FAIL: no marker in the importtime output:\n{result.stderr[-2000:]}")
    reference_ms = float(before.rstrip().splitlines()[-1].removeprefix(REFERENCE))
    modules: list[tuple[float, str]] = []
    for line in added.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        modules.append((int(self_us) / 1000, name.strip()))
    for _, name in modules:
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
            raise SystemExit(f"FAIL: a DAG-facing module imported {name!r}")
    return reference_ms, modules


def report(label: str, timed: list[tuple[float, list[tuple[float, str]]]]) -> float:
    """Print the figures of ``timed`` runs (reference loop ms, modules); the median in ms."""
    references, runs = zip(*timed, strict=True)
    totals = [sum(ms for ms, _ in run) for run in runs]
    own = [sum(ms for ms, name in run if name.startswith(OWN_PREFIX)) for run in runs]
    median = statistics.median(totals)
    per_module: dict[str, list[float]] = {}
    for run in runs:
        for ms, name in run:
            per_module.setdefault(name, []).append(ms)
    # Per-module medians across runs, largest first.
    ranked = sorted(((statistics.median(v), k) for k, v in per_module.items()), reverse=True)
    own_count = sum(1 for _, name in ranked if name.startswith(OWN_PREFIX))
    verdict = "OK" if median <= TARGET_MS else "MISSED"
    scaled = statistics.median(t * min(references) / r for t, r in zip(totals, references, strict=True))
    print(f"  {label}:")
    print(
        f"    self time the provider's imports add, median: {median:5.1f} ms  (target <= {TARGET_MS:.0f} ms)  {verdict}"
    )
    print(f"    min / max over the runs:                      {min(totals):5.1f} / {max(totals):.1f} ms")
    print(
        f"    machine speed: sum(range(10**6)) took {statistics.median(references):.1f} ms (median; min "
        f"{min(references):.1f}, max {max(references):.1f}) in the same interpreters"
    )
    # Each run scaled to the fastest reference seen: what the median would be on an unslowed machine.
    print(f"    median scaled to the fastest reference run:  {scaled:5.1f} ms  (compare runs with this)")
    others = statistics.median(t - o for t, o in zip(totals, own, strict=True))
    print(
        f"    provider modules ({own_count}), median {statistics.median(own):.1f} ms; other modules "
        f"({len(ranked) - own_count}), median {others:.1f} ms"
    )
    largest = ", ".join(f"{name.removeprefix(OWN_PREFIX + '.')} {ms:.1f}" for ms, name in ranked[:5])
    print(f"    five largest modules by self time (ms): {largest}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters to time (median reported)")
    args = parser.parse_args()
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"import_cost: {args.runs} fresh interpreters each, `import airflow.sdk` first, bytecode cached")
    print(f"  load avg {load}")
    print(f"  what a DAG file imports: {', '.join(name.removeprefix(OWN_PREFIX + '.') for name in PROVIDER)}")
    with tempfile.TemporaryDirectory(prefix="evolink-synthetic-catalogue-") as root:
        synthetic = synthetic_package(Path(root))
        for warm_up in (None, synthetic):  # fills the bytecode caches, not counted
            one_run(warm_up)
        shipped_runs, synthetic_runs = [], []
        for _ in range(args.runs):  # alternated, so that the machine's drift weighs on both alike
            shipped_runs.append(one_run(None))
            synthetic_runs.append(one_run(synthetic))
    report("catalogue as shipped", shipped_runs)
    report(f"catalogue of {SYNTHETIC_MODELS} synthetic models", synthetic_runs)


if __name__ == "__main__":
    main()
