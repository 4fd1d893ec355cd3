"""The generate operator prices its request from EvoLink's price list (the emulator's, over real HTTP), falls back
to the catalogue, names the source of its estimate in the log, XCom and lineage, and records the reservation
beside it, warning when the two differ by more than 10 %."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of
from structlog.testing import capture_logs

from airflow_provider_evolink.compat import AirflowFailException
from airflow_provider_evolink.hooks import price_list as reader
from airflow_provider_evolink.hooks.price_list import PRICE_LIST_TTL, forget_price_lists
from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

MODEL = "kling-o3-text-to-video"  # 5.4 credits per second at 720p in the catalogue


@pytest.fixture(scope="module")
def priced_emulator() -> Iterator[Any]:
    """An emulator of this module's own, whose prices the tests change."""
    from airflow_provider_evolink.emulator import EvoLinkEmulator

    with EvoLinkEmulator(processing_seconds=0.0) as emu:
        yield emu


@pytest.fixture
def conn_id(priced_emulator: Any, evolink_connection: Callable[..., str]) -> Iterator[str]:
    forget_price_lists()
    yield evolink_connection(priced_emulator.base_url, priced_emulator.api_key, "evolink_prices", max_retries=0)
    priced_emulator.set_prices({MODEL: {"720p": 5.4, "1080p": 7.2036}})  # the catalogue's
    forget_price_lists()


def generate(conn_id: str, **kwargs: Any) -> EvoLinkGenerateVideoOperator:
    request = kwargs.pop("request", {"model": MODEL, "prompt": f"a fox {uuid.uuid4().hex[:8]}", "duration": 5})
    return EvoLinkGenerateVideoOperator(task_id="generate", request=request, evolink_conn_id=conn_id, **kwargs)


def run(operator: EvoLinkGenerateVideoOperator) -> tuple[FakeTaskInstance, list[dict[str, Any]]]:
    ti = FakeTaskInstance()
    with capture_logs() as logs:
        operator.execute(context_of(ti, FakeTaskStateStore()))
    return ti, logs


def test_the_emulators_price_drives_max_credits(priced_emulator: Any, conn_id: str, virtual_time: Any) -> None:
    ti, _ = run(generate(conn_id, max_credits=30))  # 5.4 x 5 s = 27
    assert ti.xcoms["evolink_usage"]["credits_estimated"] == 27.0
    assert ti.xcoms["evolink_usage"]["credits_reserved"] == 27.0  # the emulator reserves at its list's price

    priced_emulator.set_prices({MODEL: {"720p": 8.0}})
    virtual_time.sleep(PRICE_LIST_TTL)  # the cached list has expired: the next task reads the new price
    with pytest.raises(AirflowFailException, match=r"40 credits exceeds max_credits=30 .*EvoLink's price list"):
        generate(conn_id, max_credits=30).execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))

    ti, _ = run(generate(conn_id, max_credits=40))
    assert (ti.xcoms["evolink_usage"]["credits_estimated"], ti.xcoms["evolink_usage"]["credits_reserved"]) == (40, 40)

    priced_emulator.set_prices({MODEL: 4})  # every quality: 1080p scales by its published factor
    virtual_time.sleep(PRICE_LIST_TTL)
    ti, _ = run(generate(conn_id, max_credits=20, request={"model": MODEL, "prompt": "a fox", "quality": "720p"}))
    assert ti.xcoms["evolink_usage"]["credits_estimated"] == 20.0


def test_the_source_is_named_in_the_log_xcom_and_lineage(conn_id: str) -> None:
    operator = generate(conn_id, max_credits=100)
    ti, logs = run(operator)

    (line,) = [log["event"] for log in logs if log["event"].startswith("Estimated cost")]
    assert line == (
        f"Estimated cost: 27 credits ({MODEL} at 720p), from EvoLink's price list: "
        "Kling O3 text-to-video: 5.4 credits per second × 5 s"
    )
    usage = ti.xcoms["evolink_usage"]
    assert (usage["estimate_source"], usage["credits_estimated"], usage["credits_reserved"]) == ("price_list", 27, 27)
    assert ti.xcoms["evolink_submission"]["usage"] == usage
    facet = operator.get_openlineage_facets_on_complete(None).run_facets["evolink_generation"]
    assert (facet.estimatedCredits, facet.estimateSource, facet.reservedCredits) == (27.0, "price_list", 27.0)


def test_an_unreachable_list_falls_back_to_the_catalogue_and_says_so(
    conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(base_url: str) -> Any:
        import httpx

        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(reader, "_fetch", unreachable)
    ti, logs = run(generate(conn_id, max_credits=30))

    warnings = [log["event"] for log in logs if log["log_level"] == "warning"]
    assert any("price list could not be read (ConnectError: connection refused)" in w for w in warnings)
    (line,) = [log["event"] for log in logs if log["event"].startswith("Estimated cost")]
    assert "from the catalogue's published price" in line
    assert ti.xcoms["evolink_usage"]["estimate_source"] == "catalogue"
    assert ti.xcoms["evolink_usage"]["credits_estimated"] == 27.0


def test_credits_per_second_is_named_as_the_tasks_own_price_and_a_far_reservation_warns(conn_id: str) -> None:
    # Seedance Mini has no price in the list or the catalogue; the emulator reserves a flat 8.1 credits/s.
    request = {"model": "seedance-2.0-mini-text-to-video", "prompt": "a fox", "duration": 5}
    ti, logs = run(generate(conn_id, request=request, max_credits=60, credits_per_second=10))

    messages = [log["event"] for log in logs]
    (line,) = [m for m in messages if m.startswith("Estimated cost")]
    assert "from the task's credits_per_second: " in line
    assert "published" not in line  # issue 33: no "published" price that does not exist
    (warning,) = [log["event"] for log in logs if log["log_level"] == "warning" and "reserved" in log["event"]]
    assert warning.startswith("EvoLink reserved 40.5 credits, -19% against the estimate of 50")
    assert "the task's credits_per_second" in warning
    usage = ti.xcoms["evolink_usage"]
    assert (usage["estimate_source"], usage["credits_estimated"], usage["credits_reserved"]) == (
        "credits_per_second",
        50.0,
        40.5,
    )


def test_a_price_change_the_cached_list_has_not_seen_yet_warns(priced_emulator: Any, conn_id: str) -> None:
    run(generate(conn_id))  # reads and caches the list
    priced_emulator.set_prices({MODEL: {"720p": 6.5}})  # +20 %: the next task still estimates 27

    ti, logs = run(generate(conn_id, max_credits=30))

    warnings = [log["event"] for log in logs if log["log_level"] == "warning"]
    assert any(w.startswith("EvoLink reserved 32.5 credits, +20% against the estimate of 27") for w in warnings)
    assert ti.xcoms["evolink_usage"]["credits_reserved"] == 32.5


def test_a_model_no_source_prices_still_fails_closed(conn_id: str) -> None:
    request = {"model": "seedance-2.0-mini-text-to-video", "prompt": "a fox", "duration": 5}
    with pytest.raises(AirflowFailException, match=r"does not list seedance-2\.0-mini-text-to-video.*fail closed"):
        generate(conn_id, request=request, max_credits=60).execute(context_of(FakeTaskInstance(), FakeTaskStateStore()))
