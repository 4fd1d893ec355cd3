"""What a user downloads: the wheel and the sdist carry the licence, and the sdist the tests, docs and changelog;
PyPI accepts both (``twine check --strict``); every link of the README works from the package's metadata."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from airflow_provider_evolink import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and the sdist of this checkout, built as a release is (``uv build``)."""
    out = tmp_path_factory.mktemp("dist")
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "build", "--quiet", "--out-dir", str(out), str(ROOT)], check=True, timeout=240)
    return out


@pytest.mark.timeout(300)
def test_the_wheel_carries_the_licence_and_the_notice(dist: Path) -> None:
    (wheel,) = dist.glob(f"airflow_provider_evolink-{__version__}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    info = f"airflow_provider_evolink-{__version__}.dist-info"
    assert {f"{info}/licenses/LICENSE", f"{info}/licenses/NOTICE"} <= set(names)
    assert "airflow_provider_evolink/static/evolink-logo.svg" in names
    assert not [name for name in names if name.startswith(("tests/", "docs/"))]


@pytest.mark.timeout(300)
def test_the_sdist_carries_the_licence_tests_docs_and_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    top = f"airflow_provider_evolink-{__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    for needed in ("LICENSE", "NOTICE", "CHANGELOG.md", "README.md", "tests/conftest.py", "docs/conf.py"):
        assert f"{top}/{needed}" in names, needed
    assert "Apache License" in (ROOT / "LICENSE").read_text()


@pytest.mark.timeout(300)
def test_pypi_accepts_both_files(dist: Path) -> None:
    twine = Path(sys.executable).with_name("twine")
    result = subprocess.run(
        [str(twine), "check", "--strict", *map(str, sorted([*dist.glob("*.whl"), *dist.glob("*.tar.gz")]))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_every_readme_link_and_image_is_absolute() -> None:
    # The README is the package's long description: on PyPI and in `pip show` a relative link leads nowhere.
    targets = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    assert targets
    assert [target for target in targets if not target.startswith(("https://", "#"))] == []


def test_every_docs_link_of_the_readme_names_a_page_of_the_docs_set() -> None:
    docs = "https://airflow-provider-evolink.readthedocs.io/en/latest/"
    pages = [target.removeprefix(docs) for target in re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())]
    pages = [page.removesuffix(".html") for page in pages if not page.startswith(("https://", "#"))]
    assert "operators/generate" in pages
    assert [page for page in pages if not (ROOT / "docs" / f"{page}.md").is_file()] == []
