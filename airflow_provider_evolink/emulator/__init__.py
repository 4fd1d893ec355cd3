"""A local EvoLink-compatible server (FastAPI + uvicorn) for demos, tests and users' CI.

``with EvoLinkEmulator(processing_seconds=0) as emu:`` then point an ``evolink`` connection at
``emu.base_url`` with ``emu.api_key`` (and its ``files_base_url`` extra at ``emu.files_base_url``, the files API
on a port of its own); or run ``python -m airflow_provider_evolink.emulator --port 8080``. Like EvoLink, it
fetches every media input when a task starts (``fetch_inputs``).
The provider's hooks, operators, sensors and triggers never import it.
"""

from __future__ import annotations

from .server import EvoLinkEmulator

__all__ = ["EvoLinkEmulator"]
