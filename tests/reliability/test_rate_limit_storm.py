"""500 triggers sharing one client ride out a 429 storm (harness: ``soak.py`` beside this file;
``benchmarks/soak.py --storm`` runs it for 30 s).

The same 500 waits run twice in one event loop (so through one shared async client): fault-free, then while the
emulator answers half of all requests with 429 (``Retry-After: 1``) for a window. No trigger may fail, the storm
may cost at most twice the fault-free number of requests, and all finish once the storm is over (their tasks
complete after it).
"""

from __future__ import annotations

import pytest

from .soak import run_storm

pytestmark = pytest.mark.soak

TRIGGERS = 500
STORM_SECONDS = 5.0


def test_500_triggers_sharing_one_client_ride_out_a_429_storm() -> None:
    report = run_storm(TRIGGERS, storm_seconds=STORM_SECONDS, poll_interval=1.0)
    print(report.tallies())

    assert report.problems == []
    assert report.baseline.events == {"success": TRIGGERS}
    assert report.storm.events == {"success": TRIGGERS}
    assert report.storm.rate_limited > 0
    assert report.storm.task_reads <= 2 * report.baseline.task_reads
    assert len(report.storm.finish_offsets) == TRIGGERS
    assert min(report.storm.finish_offsets) >= STORM_SECONDS, "a trigger finished inside the storm window"
