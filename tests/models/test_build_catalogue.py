"""``scripts/build_catalogue.py`` reproduces the checked-in catalogue and generated contracts from the checked-in
inputs (``scripts/catalogue/``): a hand edit of the output, or an input change without a rebuild, fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_catalogue_is_what_the_generator_writes_from_the_checked_in_inputs() -> None:
    spec = importlib.util.spec_from_file_location("build_catalogue", ROOT / "scripts" / "build_catalogue.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = module.build()
    assert module.CATALOGUE in files
    assert len(files) > 1
    stale = [str(path.relative_to(ROOT)) for path, text in files.items() if path.read_text("utf-8") != text]
    assert not stale, f"run python scripts/build_catalogue.py: {stale}"
