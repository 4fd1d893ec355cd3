"""A local EvoLink-compatible server (FastAPI + uvicorn) for demos, tests and users' CI.

``with EvoLinkEmulator(processing_seconds=0) as emu:`` then point an ``evolink`` connection at
``emu.base_url`` with ``emu.api_key``; or run ``python -m airflow_provider_evolink.emulator --port 8080``.
The provider's hooks, operators, sensors and triggers never import it.
"""

from __future__ import annotations

from .server import EvoLinkEmulator

__all__ = ["EvoLinkEmulator"]
