"""
Every text a user or a reader of the repository meets stands on its own: no file of the repository (package,
example DAGs, README, docs, tests, scripts) names documents that are not in it. The API reference that ships is
``airflow_provider_evolink/api_reference/evolink-api.md`` and the OpenAPI copies in
``airflow_provider_evolink/api_reference/openapi/``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Documents of the design notes that never ship (spelled in pieces so this file does not name them itself).
OUTSIDE = re.compile(r"FACTS" r"\.md|\.\./" r"shared|shared/" r"(?:evolink-api|DESIGN\.md|STYLE\.md)", re.IGNORECASE)


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = [REPO / name.decode() for name in listed if name]
    return [path for path in paths if path.is_file() and b"\0" not in path.read_bytes()[:4096]]


def test_no_file_of_the_repository_names_a_document_outside_it() -> None:
    files = _tracked_text_files()
    assert REPO / "airflow_provider_evolink" / "operators" / "evolink.py" in files
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}"
        for path in files
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert offenders == [], "\n".join(offenders)
