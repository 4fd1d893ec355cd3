"""Reading EvoLink's price list: public (no API key sent), short timeout, cached per process, never failing a task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_evolink.hooks import price_list as reader
from airflow_provider_evolink.hooks.evolink import EvoLinkHook
from airflow_provider_evolink.hooks.price_list import (
    MAX_STALE,
    PRICE_LIST_PATH,
    PRICE_LIST_TIMEOUT,
    PRICE_LIST_TTL,
    RETRY_AFTER_FAILURE,
    forget_price_lists,
    read_price_list,
)

BASE = "https://api.evolink.test"
BODY = {
    "success": True,
    "data": [
        {"model_name": "kling-o3-text-to-video", "model_type": "video", "billing_rule": "per_second", "cny_price": 0.54}
    ],
}


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    forget_price_lists()
    yield
    forget_price_lists()


def list_reads(emulator: Any, since: int = 0) -> list[dict[str, Any]]:
    return [entry for entry in emulator.requests()[since:] if entry["path"] == PRICE_LIST_PATH]


def test_the_hook_reads_the_emulators_list_without_the_api_key(emulator: Any) -> None:
    before = len(emulator.requests())

    read = EvoLinkHook().get_price_list()

    assert read.problem is None
    assert read.price_list is not None
    assert {"kling-o3-reference-to-video", "seedance-2.0-text-to-video"} <= set(read.price_list.models)
    (entry,) = list_reads(emulator, before)
    assert entry["method"] == "GET"
    assert entry["auth"] is False  # a public list: the key never travels there


def test_the_request_carries_no_authorization_header_and_a_short_timeout() -> None:
    with respx.mock(base_url=BASE) as api:
        route = api.get(PRICE_LIST_PATH).respond(json=BODY)
        read_price_list(BASE)

    (call,) = route.calls
    assert "authorization" not in call.request.headers
    assert call.request.headers["user-agent"].startswith("airflow-provider-evolink/")
    assert call.request.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), PRICE_LIST_TIMEOUT)


def test_a_read_list_is_kept_for_its_lifetime_then_read_again(emulator: Any, virtual_time: Any) -> None:
    before = len(emulator.requests())

    first = read_price_list(emulator.base_url)
    virtual_time.sleep(PRICE_LIST_TTL - 1)
    assert read_price_list(emulator.base_url) == first
    assert len(list_reads(emulator, before)) == 1

    virtual_time.sleep(2)
    assert read_price_list(emulator.base_url).price_list is not None
    assert len(list_reads(emulator, before)) == 2


def test_an_unreachable_list_is_said_and_not_asked_again_at_once(
    virtual_time: Any, unused_base_url: Callable[[], str]
) -> None:
    base_url = unused_base_url()

    read = read_price_list(base_url)

    assert read.price_list is None
    assert "could not be read (ConnectError" in (read.problem or "")
    with respx.mock(base_url=base_url) as api:  # a second ask within the pause goes nowhere
        route = api.get(PRICE_LIST_PATH).respond(json=BODY)
        assert read_price_list(base_url) == read
        virtual_time.sleep(RETRY_AFTER_FAILURE)
        assert read_price_list(base_url).price_list is not None
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"side_effect": httpx.ReadTimeout("timed out")}, "ReadTimeout: timed out"),
        ({"status_code": 503}, "HTTP 503"),
        ({"status_code": 200, "text": "<html>maintenance</html>"}, "JSONDecodeError"),
        ({"status_code": 200, "json": {"success": True, "data": {"not": "a list"}}}, "PriceListError"),
    ],
)
def test_a_failed_refresh_keeps_the_last_copy_for_a_day(
    virtual_time: Any, answer: dict[str, Any], problem: str
) -> None:
    with respx.mock(base_url=BASE) as api:
        route = api.get(PRICE_LIST_PATH)
        route.respond(json=BODY)
        good = read_price_list(BASE).price_list
        virtual_time.sleep(PRICE_LIST_TTL)
        side_effect = answer.get("side_effect")
        if side_effect is not None:
            route.side_effect = side_effect
        else:
            route.side_effect = None
            route.return_value = httpx.Response(**answer)

        stale = read_price_list(BASE)
        assert stale.price_list == good
        assert problem in (stale.problem or "")
        assert "using the copy read 10 min ago" in (stale.problem or "")

        virtual_time.sleep(MAX_STALE)
        gone = read_price_list(BASE)
    assert gone.price_list is None
    assert problem in (gone.problem or "")


def test_the_cache_is_per_api_host() -> None:
    other = "https://api.other.test"
    with respx.mock() as api:
        first = api.get(BASE + PRICE_LIST_PATH).respond(json=BODY)
        second = api.get(other + PRICE_LIST_PATH).respond(json={"success": True, "data": []})
        assert read_price_list(BASE).price_list is not None
        assert read_price_list(other).price_list is not None
        assert read_price_list(BASE).price_list.models != read_price_list(other).price_list.models  # type: ignore[union-attr]
    assert (first.call_count, second.call_count) == (1, 1)
    assert reader._CACHE.keys() == {BASE, other}


@pytest.fixture
def unused_base_url() -> Callable[[], str]:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    import socket

    def make() -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

    return make
