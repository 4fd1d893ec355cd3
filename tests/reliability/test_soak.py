"""The fault soak of ``soak.py`` (beside this file) at a reduced size (``python benchmarks/soak.py`` runs 200).

20 generations through the real operator → trigger → transfer code paths against an emulator injecting 429s,
500s, dropped connections, slow answers and cut-off downloads, one ``[fail-once:service_error]`` prompt and one
``[fail:content_policy_violation]`` prompt. ``run_soak`` checks the requirements and lists what broke.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .soak import run_soak

pytestmark = pytest.mark.soak


def test_twenty_generations_survive_the_fault_mix(tmp_path: Path) -> None:
    report = run_soak(20, workdir=tmp_path, concurrency=20)
    print(report.tallies())

    assert report.problems == []
    assert report.kinds == {"good": 18, "fail_once": 1, "policy": 1}
    assert report.files_verified == 19
    assert report.created_tasks == report.expected_created_tasks == 21
    assert report.temporary_files == []
    assert report.auth_to_file_host == 0
    assert sum(report.faults.values()) > 0, "no fault was injected: nothing was tested"
