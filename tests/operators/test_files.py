"""EvoLinkUploadFileOperator: one upload per source, the file_url(s) as XCom, refusals fail without retries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fakes import FakeTaskInstance, context_of

from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.emulator import EvoLinkEmulator, media
from airflow_provider_evolink.operators.files import EvoLinkUploadFileOperator


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"character-{index}.jpg" for index in range(2)]
    for path in paths:
        path.write_bytes(media.character_image().data)
    return paths


def files_conn(emu: EvoLinkEmulator, evolink_connection: Callable[..., str], conn_id: str = "evolink_up") -> str:
    return evolink_connection(emu.base_url, emu.api_key, conn_id, files_base_url=emu.files_base_url)


def uploads(emu: EvoLinkEmulator) -> int:
    return sum(1 for e in emu.requests() if e["host"] == "files" and e["method"] == "POST")


def test_one_source_returns_its_file_url(evolink_connection: Callable[..., str], images: list[Path]) -> None:
    with EvoLinkEmulator() as emu:
        operator = EvoLinkUploadFileOperator(
            task_id="upload", source=images[0].as_uri(), evolink_conn_id=files_conn(emu, evolink_connection)
        )
        url = operator.execute(context_of(FakeTaskInstance(), None))
        assert isinstance(url, str)
        assert httpx.get(url).content == images[0].read_bytes()
        assert uploads(emu) == 1


def test_a_list_returns_the_file_urls_in_order(evolink_connection: Callable[..., str], images: list[Path]) -> None:
    with EvoLinkEmulator() as emu:
        operator = EvoLinkUploadFileOperator(
            task_id="upload", source=[str(p) for p in images], evolink_conn_id=files_conn(emu, evolink_connection)
        )
        urls = operator.execute(context_of(FakeTaskInstance(), None))
        assert isinstance(urls, list)
        assert len(urls) == 2
        assert len(set(urls)) == 2
        assert uploads(emu) == 2


def test_file_name_with_several_sources_is_refused(images: list[Path]) -> None:
    operator = EvoLinkUploadFileOperator(task_id="upload", source=[str(p) for p in images], file_name="x.jpg")
    with pytest.raises(AirflowFailException, match="file_name names one file"):
        operator.execute(context_of(FakeTaskInstance(), None))


def test_an_exhausted_quota_fails_without_retries(evolink_connection: Callable[..., str], images: list[Path]) -> None:
    with EvoLinkEmulator(file_quota=0) as emu:
        operator = EvoLinkUploadFileOperator(
            task_id="upload", source=str(images[0]), evolink_conn_id=files_conn(emu, evolink_connection)
        )
        with pytest.raises(AirflowFailException, match=r"\[403\].*quota"):
            operator.execute(context_of(FakeTaskInstance(), None))


def test_source_is_templated() -> None:
    assert "source" in EvoLinkUploadFileOperator.template_fields
