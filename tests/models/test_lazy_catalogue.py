"""Issue 34: what a DAG file imports (the generate operator, the sensor, the transfer, the upload operator) imports
no model family module, defines no request class, reads no catalogue file and imports no trigger machinery beyond
what ``airflow.sdk`` itself imports, however large the catalogue; the first request of a family does. Checked in a
fresh interpreter with ``sys.modules`` and an audit hook on ``open`` (not a timing test:
``benchmarks/import_cost.py`` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_provider_evolink.models.requests import FAMILY_MODULES

DAG_FACING = (
    "airflow_provider_evolink.operators.evolink",
    "airflow_provider_evolink.sensors.evolink",
    "airflow_provider_evolink.transfers.evolink_to_storage",
    "airflow_provider_evolink.operators.files",
)
MODEL_MODULES = sorted(
    {f"airflow_provider_evolink.models.{name}" for name in FAMILY_MODULES.values()}
    | {f"airflow_provider_evolink.models.{name}" for name in ("kling_reference", "typed", "family", "field_rules")}
)
CODE = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and str(args[0]).endswith(
    "catalogue.json") else None)
import airflow.sdk  # what any DAG file pays anyway: on Airflow 3.1 it already imports the trigger machinery
# The trigger machinery, and the providers manager an Asset's URI normalisation loads (airflow.models.asset with it).
own = [name for name in ("airflow.triggers.base", "airflow.models.asset") if name not in sys.modules]
for name in {dag_facing!r}:
    __import__(name)
loaded = sorted(name for name in {model_modules!r} + own if name in sys.modules)
reads_at_import = list(opened)
from airflow_provider_evolink.models import VeoRequest, parse_request
request = parse_request({{"model": "veo-3.1-generate-preview", "prompt": "Waves", "n": 2}})
print(json.dumps([loaded, reads_at_import, type(request).__name__, VeoRequest.__module__, len(opened)]))
"""


def test_dag_facing_imports_load_no_model_family_and_read_no_catalogue_until_a_request_is_parsed() -> None:
    code = CODE.format(dag_facing=DAG_FACING, model_modules=MODEL_MODULES)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded, reads, parsed, module, reads_after = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == []
    assert reads == []
    assert (parsed, module) == ("VeoRequest", "airflow_provider_evolink.models.veo_sora")
    assert reads_after == 1  # read once, on first use
