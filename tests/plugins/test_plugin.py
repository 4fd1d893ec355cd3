"""The plugin as Airflow loads it: an ``airflow.plugins`` entry point, loaded once in every discovery mode, valid, and
cheap to import."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest


def test_the_plugin_is_an_airflow_plugins_entry_point_and_not_declared_twice() -> None:
    from importlib.metadata import entry_points

    from airflow_names import is_valid_plugin

    from airflow_provider_evolink.get_provider_info import get_provider_info

    [entry] = [ep for ep in entry_points(group="airflow.plugins") if ep.value.startswith("airflow_provider_evolink")]
    plugin = entry.load()
    assert entry.name == plugin.name == "evolink"
    assert is_valid_plugin(plugin)
    assert "plugins" not in get_provider_info()  # a second declaration would register it twice


@pytest.mark.timeout(120)
@pytest.mark.parametrize("lazy", ["True", "False"])
def test_airflow_loads_the_plugin_once_whether_or_not_it_discovers_providers_lazily(lazy: str) -> None:
    code = (
        "import json; from airflow import plugins_manager as pm;"
        # Airflow 3.2 moved the loaded plugins from module globals (3.1) into a cached function.
        "plugins, errors = pm._get_plugins() if hasattr(pm, '_get_plugins') else"
        " (pm.ensure_plugins_loaded() or (pm.plugins, pm.import_errors));"
        "print(json.dumps([[p.name for p in plugins], [e for e in errors if 'evolink' in e]]))"
    )
    env = {**os.environ, "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy}
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, timeout=110
    ).stdout
    names, errors = json.loads(output.strip().splitlines()[-1])
    assert names.count("evolink") == 1
    assert errors == []


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


def test_the_tab_names_the_operators_by_their_class_names() -> None:
    from airflow_provider_evolink.asset_extra import TRANSFER_OPERATOR
    from airflow_provider_evolink.operators.review import (
        EvoLinkVideoReviewBranchOperator,
        EvoLinkVideoReviewOperator,
    )
    from airflow_provider_evolink.plugins.gallery import TAB_OPERATORS
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    operators = [EvoLinkToStorageOperator, EvoLinkVideoReviewOperator, EvoLinkVideoReviewBranchOperator]
    assert list(TAB_OPERATORS) == [operator.__name__ for operator in operators]
    assert TAB_OPERATORS[0] == TRANSFER_OPERATOR


@pytest.mark.airflow_min("3.4", reason="UI plugin views take `applies_to` from Airflow 3.4")
def test_from_airflow_3_4_the_task_instance_tab_applies_only_to_the_transfer_and_airflow_keeps_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow import plugins_manager

    from airflow_provider_evolink.operators.review import (
        EvoLinkVideoReviewBranchOperator,
        EvoLinkVideoReviewOperator,
    )
    from airflow_provider_evolink.plugins.gallery import EvoLinkGalleryPlugin
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    nav, tab = (dict(view) for view in EvoLinkGalleryPlugin.external_views)
    assert "applies_to" not in nav  # the gallery of every video stays in the nav everywhere
    operators = [EvoLinkToStorageOperator, EvoLinkVideoReviewOperator, EvoLinkVideoReviewBranchOperator]
    assert tab["applies_to"] == {"operator": [operator.__name__ for operator in operators]}
    # Airflow's own check at plugin load: a path naming no field of a task instance would withhold the tab.
    with caplog.at_level(logging.WARNING, logger=plugins_manager.log.name):
        assert plugins_manager._validate_applies_to("evolink", tab, "external view")
    assert caplog.records == []


@pytest.mark.airflow_below("3.4", reason="the tab is on every task instance before `applies_to` exists")
def test_before_airflow_3_4_no_view_carries_applies_to() -> None:
    from airflow_provider_evolink.plugins.gallery import EvoLinkGalleryPlugin

    assert [view for view in EvoLinkGalleryPlugin.external_views if "applies_to" in view] == []
