"""The plugin as Airflow loads it: registered by the provider, valid, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys


def test_provider_registers_the_plugin_class() -> None:
    from airflow_names import import_string, is_valid_plugin

    from airflow_provider_evolink.get_provider_info import get_provider_info

    [entry] = get_provider_info()["plugins"]
    plugin = import_string(entry["plugin-class"])
    assert entry["name"] == plugin.name == "evolink"
    assert is_valid_plugin(plugin)


def test_importing_the_plugin_loads_no_web_framework_database_model_or_pyav() -> None:
    # Schedulers, workers and DAG processors import every plugin; only the API server serves this one.
    code = (
        "import sys, json; import airflow.sdk; before = set(sys.modules);"
        "import airflow_provider_evolink.plugins.gallery;"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    added = json.loads(output.strip().splitlines()[-1])
    heavy = (
        "fastapi",
        "starlette",
        "av",
        "airflow.models",
        "airflow.api_fastapi",
        "airflow_provider_evolink.plugins.api",
    )
    assert [module for module in added if module.startswith(heavy)] == []
