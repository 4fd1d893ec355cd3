"""Sphinx configuration of the provider's documentation (``make docs``: ``sphinx-build -W --keep-going``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# autodoc imports the package, which imports Airflow: give it a throw-away home, never the reader's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="evolink-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

# FastAPI's models must be built before autodoc imports the emulator (pydantic refuses them mid-autodoc).
import airflow_provider_evolink.emulator  # noqa: F401
from airflow_provider_evolink import __version__

ROOT = Path(__file__).resolve().parents[1]

project = "airflow-provider-evolink"
author = "The airflow-provider-evolink developers"
copyright = "2026, The airflow-provider-evolink developers"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"airflow-provider-evolink {release}"
# The integration logo Airflow's provider info points at (``_static/evolink-logo.svg``) ships inside the package.
html_static_path = [str(ROOT / "airflow_provider_evolink" / "static")]
html_logo = str(ROOT / "airflow_provider_evolink" / "static" / "evolink-logo.svg")
html_baseurl = "https://airflow-provider-evolink.readthedocs.io/en/latest/"
