"""Fixtures of the reliability checks: EvoLink connections to their own emulators or scripted servers."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest


class RawHTTPServer(socketserver.ThreadingTCPServer):
    """A loopback server that answers every request with ``response`` (raw bytes: any status line, headers and
    body, valid HTTP or not) and then closes the connection. ``response = None`` never answers (a hung server).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.response: bytes | None = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
        self.requests = 0
        self.closing = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RawHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: RawHTTPServer = self.server  # type: ignore[assignment]
        sock: socket.socket = self.request
        sock.settimeout(5)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                head += chunk
            server.requests += 1
            response = server.response
            if response is None:
                server.closing.wait(30)  # hold the connection without a word, until the test ends
                return
            sock.sendall(response)
            # Half-close, so a client reading "until the server is done" sees the end at once.
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawHTTPServer]:
    server = RawHTTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


def http_response(status: int, body: bytes = b"", *, reason: str = "", **headers: str) -> bytes:
    """A raw HTTP/1.1 response with a correct ``Content-Length`` unless ``headers`` gives one."""
    lines = [f"HTTP/1.1 {status} {reason or 'Whatever'}"]
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    headers.setdefault("Content-Length", str(len(body)))
    headers.setdefault("Connection", "close")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
