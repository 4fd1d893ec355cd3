"""Reading a body past h11: the same bytes, a cut-off body ends short, socket failures surface as httpx errors.

A raw TCP server on 127.0.0.1 sends exact bytes (a stall, a reset, a chunked body), which no HTTP framework
would: the edges of the socket reads that ``iter_body`` does itself.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from airflow_provider_evolink.transfers.body import iter_body

BODY = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """``serve(answer)``: a one-connection server on a free port that reads the request, then lets ``answer``
    write to the socket; returns its URL."""
    threads: list[threading.Thread] = []
    stop = threading.Event()

    def serve(answer: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))

        def run() -> None:
            with listener, listener.accept()[0] as connection:
                connection.recv(65536)
                answer(connection)
                if not _lingers_at_zero(connection):
                    stop.wait(10)  # keep the connection open until the test is over

        threads.append(threading.Thread(target=run, daemon=True))
        threads[-1].start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/result.mp4"

    yield serve
    stop.set()
    for thread in threads:
        thread.join(5)


def _lingers_at_zero(connection: socket.socket) -> bool:
    return connection.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == struct.pack("ii", 1, 0)


def head(length: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()


def read_all(url: str, timeout: float = 5.0) -> bytes:
    with httpx.Client(timeout=timeout) as client, client.stream("GET", url) as response:
        return b"".join(iter_body(response))


def test_a_whole_body_arrives_byte_for_byte(raw_server: Callable[..., str]) -> None:
    def answer(connection: socket.socket) -> None:
        connection.sendall(head(len(BODY)) + BODY[:1000])  # some body with the headers, the rest after
        connection.sendall(BODY[1000:])
        connection.sendall(b"trailing garbage")  # past Content-Length: never read as body

    assert read_all(raw_server(answer)) == BODY


def test_a_body_the_peer_closes_early_ends_short(raw_server: Callable[..., str]) -> None:
    def answer(connection: socket.socket) -> None:
        connection.sendall(head(len(BODY)) + BODY[:300_000])
        connection.shutdown(socket.SHUT_WR)

    assert read_all(raw_server(answer)) == BODY[:300_000]


def test_a_stalled_body_raises_httpx_read_timeout(raw_server: Callable[..., str]) -> None:
    def answer(connection: socket.socket) -> None:
        connection.sendall(head(len(BODY)) + BODY[:1000])

    with pytest.raises(httpx.ReadTimeout):
        read_all(raw_server(answer), timeout=0.3)


def test_a_reset_connection_raises_httpx_read_error(raw_server: Callable[..., str]) -> None:
    first_chunk_read = threading.Event()

    def answer(connection: socket.socket) -> None:
        connection.sendall(head(len(BODY)) + BODY[:1000])
        first_chunk_read.wait(5)  # the reset hits a read of iter_body's own, not h11's
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST

    with httpx.Client() as client, client.stream("GET", raw_server(answer)) as response:
        chunks = iter_body(response)
        assert next(chunks) == BODY[:1000]
        first_chunk_read.set()
        with pytest.raises(httpx.ReadError):
            list(chunks)


def test_a_chunked_body_is_left_to_httpx(raw_server: Callable[..., str]) -> None:
    def answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        connection.sendall(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    assert read_all(raw_server(answer)) == b"hello world"
