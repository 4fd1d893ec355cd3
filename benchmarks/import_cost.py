"""Import cost of the provider's DAG-facing modules (issue 7, benchmark 3).

Runs fresh interpreters with ``python -X importtime`` that first import ``airflow.sdk`` and then every
DAG-facing provider module (models, hook, operator, sensor, trigger, transfer, the UI plugin class; not the
emulator). Sums the *self* times of the modules that only the provider's imports added — the parse-time cost a
DAG file pays for using the provider — and prints the median of several runs beside the target (≤ 30 ms), split into the
provider's own modules and the third-party/Airflow modules they pulled in. Fails if the emulator, PyAV,
FastAPI, Starlette or uvicorn is among them.

Bytecode: an installed provider has ``.pyc`` files (pip compiles them), so the children run with a bytecode
cache (``PYTHONPYCACHEPREFIX`` in the temp folder, even where ``PYTHONDONTWRITEBYTECODE`` is set) and one
discarded warm-up run fills it; otherwise every run would time the compiler, not the imports.

    python benchmarks/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = ["airflow.sdk"]
PROVIDER = [
    "airflow_provider_evolink.models",
    "airflow_provider_evolink.hooks.evolink",
    "airflow_provider_evolink.operators.evolink",
    "airflow_provider_evolink.sensors.evolink",
    "airflow_provider_evolink.triggers.evolink",
    "airflow_provider_evolink.transfers.evolink_to_storage",
    "airflow_provider_evolink.plugins.gallery",  # every Airflow component that loads plugins imports it
]
OWN_PREFIX = "airflow_provider_evolink"
FORBIDDEN = ("airflow_provider_evolink.emulator", "av", "fastapi", "starlette", "uvicorn")
TARGET_MS = 30.0
MARKER = "--- provider imports start ---"
REFERENCE = "reference loop ms:"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "airflow-provider-evolink-bench-pycache")
    return env


def one_run() -> tuple[float, list[tuple[float, str]]]:
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
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters to time (median reported)")
    args = parser.parse_args()
    one_run()  # warm-up: fills the bytecode cache, not counted
    references, runs = zip(*(one_run() for _ in range(args.runs)), strict=True)
    totals = [sum(ms for ms, _ in run) for run in runs]
    own = [sum(ms for ms, name in run if name.startswith(OWN_PREFIX)) for run in runs]
    median = statistics.median(totals)
    per_module: dict[str, list[float]] = {}
    for run in runs:
        for ms, name in run:
            per_module.setdefault(name, []).append(ms)
    # Per-module medians across runs, largest first.
    ranked = sorted(((statistics.median(v), k) for k, v in per_module.items()), reverse=True)
    own_ranked = [(ms, name) for ms, name in ranked if name.startswith(OWN_PREFIX)]
    other_ranked = [(ms, name) for ms, name in ranked if not name.startswith(OWN_PREFIX)]
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    verdict = "OK" if median <= TARGET_MS else "MISSED"

    def listing(modules: list[tuple[float, str]], limit: int) -> str:
        shown = ", ".join(f"{name.removeprefix(OWN_PREFIX + '.')} {ms:.1f}" for ms, name in modules[:limit])
        return shown + (f", … ({len(modules) - limit} more)" if len(modules) > limit else "")

    print(f"import_cost: {args.runs} fresh interpreters, `import airflow.sdk` first, bytecode cached; load avg {load}")
    print(
        f"  self time the provider's imports add, median: {median:5.1f} ms  (target <= {TARGET_MS:.0f} ms)  {verdict}"
    )
    print(f"  min / max over the runs:                      {min(totals):5.1f} / {max(totals):.1f} ms")
    print(
        f"  machine speed: sum(range(10**6)) took {statistics.median(references):.1f} ms (median; min "
        f"{min(references):.1f}, max {max(references):.1f}) in the same interpreters"
    )
    # Each run scaled to the fastest reference seen: what the median would be on an unslowed machine.
    scaled = statistics.median(t * min(references) / r for t, r in zip(totals, references, strict=True))
    print(f"  median scaled to the fastest reference run:  {scaled:5.1f} ms  (compare runs with this; target: median)")
    print(f"  provider modules ({len(own_ranked)}), median {statistics.median(own):.1f} ms: " + listing(own_ranked, 6))
    others = statistics.median(t - o for t, o in zip(totals, own, strict=True))
    print(f"  other modules ({len(other_ranked)}), median {others:.1f} ms: " + listing(other_ranked, 6))


if __name__ == "__main__":
    main()
