"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_evolink import __version__
from airflow_provider_evolink.defaults import (
    BATCH_READS_MODES,
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_READS,
    DEFAULT_FILES_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_OUTAGE_TOLERANCE,
    DEFAULT_TIMEOUT,
)

_INTEGRATION = "EvoLink"
#: The docs set (``docs/``, built by ``make docs``); Airflow's providers page and integration list link into it.
_DOCS = "https://airflow-provider-evolink.readthedocs.io/en/latest"


def get_provider_info() -> dict[str, Any]:
    """The provider dict, valid against Airflow's ``provider_info.schema.json``.

    ``package-name`` must equal the distribution name exactly, or every ``airflow`` command breaks.
    The connection form is declared with ``conn-fields`` and ``ui-field-behaviour`` (read by Airflow 3.2+).
    ``config`` declares every ``[evolink]`` option the provider reads, so ``airflow config list`` shows them.
    """
    return {
        "package-name": "airflow-provider-evolink",
        "name": "EvoLink",
        # Plain text: the providers page strips RST characters (`, _, <, >) and links bare URLs.
        "description": "EvoLink AI video generation (Kling O3, Kling V3 motion control and more): submit, wait in "
        "the triggerer, store the video in any object storage. https://evolink.ai",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.evolink.ai",
                "logo": f"{_DOCS}/_static/evolink-logo.svg",  # airflow_provider_evolink/static/evolink-logo.svg
                "how-to-guide": [
                    f"{_DOCS}/operators/generate.html",
                    f"{_DOCS}/operators/sensor.html",
                    f"{_DOCS}/operators/storage.html",
                    f"{_DOCS}/operators/upload.html",
                ],
                "tags": ["ai", "generative-ai", "video-generation", "ai-inference"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_evolink.hooks.evolink"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_evolink.operators.evolink",
                    "airflow_provider_evolink.operators.files",
                ],
            }
        ],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_evolink.sensors.evolink"]}],
        "triggers": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_evolink.triggers.evolink"]}
        ],
        "transfers": [
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_evolink.transfers.evolink_to_storage",
            }
        ],
        # No "plugins": the gallery plugin is an ``airflow.plugins`` entry point (pyproject.toml), loaded whatever
        # [core] lazy_discover_providers says; declaring it here too would register it twice when that is False.
        "extra-links": ["airflow_provider_evolink.links.storage.StoredVideoLink"],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_evolink.hooks.evolink.EvoLinkHook",
                "hook-name": "EvoLink",
                "connection-type": "evolink",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"password": "API Key", "host": "Base URL"},
                    "placeholders": {"host": DEFAULT_BASE_URL, "password": "sk-..."},
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Seconds allowed for one HTTP request to EvoLink: a number greater than 0 "
                        f"(default {DEFAULT_TIMEOUT:g}).",
                        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries of rate-limited (429), server-error (5xx) and network failures, "
                        f"with backoff: a whole number, 0 or more (default {DEFAULT_MAX_RETRIES}).",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                    },
                    "outage_tolerance": {
                        "label": "Outage tolerance (seconds)",
                        "description": "How long waits and saves outlast 429/5xx/network failures in a row: "
                        f"0 or more (default {DEFAULT_OUTAGE_TOLERANCE:g}).",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "files_base_url": {
                        "label": "Files API URL",
                        "description": "Host of EvoLink's files API, where local inputs are uploaded "
                        f"(default {DEFAULT_FILES_BASE_URL}).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "batch_reads": {
                        "label": "Batch reads",
                        "description": "Whether waits in one triggerer read their tasks together, up to 50 per "
                        "call: auto (turns itself off where EvoLink lacks the call), on, or off "
                        f"(default {DEFAULT_BATCH_READS}).",
                        "schema": {"type": ["string", "null"], "enum": [*BATCH_READS_MODES, None]},
                    },
                },
            }
        ],
        "config": {
            "evolink": {
                "description": "The EvoLink provider's options.",
                "options": {
                    "gallery_cache_folder": {
                        "description": "Folder where the EvoLink videos gallery caches its poster frames (JPEG, "
                        "made once per stored video). Empty: {AIRFLOW_HOME}/evolink-gallery.",
                        "version_added": "1.0.0",
                        "type": "string",
                        "example": "/var/cache/airflow/evolink-gallery",
                        "default": None,
                    },
                    "state_store_path": {
                        "description": "Airflow 3.1/3.2 only: a folder (any ObjectStoragePath URI) where the generate "
                        "operator keeps each task instance's submission as a JSON file, so a retry reconnects "
                        "instead of paying twice. Empty: one Variable per task instance. Airflow 3.3+ uses "
                        "task_state_store and ignores it.",
                        "version_added": "1.0.0",
                        "type": "string",
                        "example": "s3://my-bucket/evolink-state",
                        "default": None,
                    },
                },
            }
        },
    }
