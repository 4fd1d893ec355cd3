"""Reading a result body off the socket without the HTTP/1.1 parser copying every byte.

httpx hands a body over through h11, which appends each socket read to its own buffer, slices it out again and
httpcore copies it once more into ``bytes``: three copies of every byte and a parser round per read, several times
the CPU of the socket reads alone (figures: ``benchmarks/README.md``). For a
plain body (``Content-Length``, no transfer or content coding) the parser has nothing to do after the headers,
so :func:`iter_body` takes what h11 already holds (its first chunk) and reads the rest straight from httpcore's
``network_stream`` response extension (the connection's own stream, with its timeout and TLS). The connection
is then left mid-message for httpcore, which closes it when the response closes instead of reusing it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpcore
import httpx

__all__ = ["BODY_READ_BYTES", "iter_body"]

#: Most bytes asked of the socket per read (a read returns what the kernel holds, often less).
BODY_READ_BYTES = 1 << 20


def iter_body(response: httpx.Response) -> Iterator[bytes]:
    """The body of a streamed ``response`` (content codings decoded, as ``iter_bytes``), chunk by chunk as the
    network delivers it.

    A body cut off early simply ends (the caller compares the byte count with ``Content-Length``).

    :raises httpx.ReadError: the connection failed mid-body (``httpx.ReadTimeout``: no byte for the client's
        read timeout, in seconds); httpx's own transport errors for bodies it parses itself.
    """
    chunks = response.iter_bytes()
    length = _plain_length(response)
    stream = response.extensions.get("network_stream")
    if length is None or not isinstance(stream, httpcore.NetworkStream):
        yield from chunks  # chunked, encoded or not from a socket (e.g. a mocked transport): httpx parses it
        return
    received = 0
    for chunk in chunks:  # what h11 read along with the headers: after one chunk its buffer is empty
        received += len(chunk)
        yield chunk
        break
    timeout = response.request.extensions.get("timeout", {}).get("read")
    while received < length and (chunk := _read(stream, min(BODY_READ_BYTES, length - received), timeout)):
        received += len(chunk)
        yield chunk


def _plain_length(response: httpx.Response) -> int | None:
    """``Content-Length`` of a body sent as is (no ``Transfer-Encoding``, no content coding), else ``None``."""
    headers = response.headers
    if "transfer-encoding" in headers or headers.get("content-encoding", "identity") != "identity":
        return None
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def _read(stream: httpcore.NetworkStream, max_bytes: int, timeout: float | None) -> bytes:
    """One socket read (``b""`` once the peer closed), with httpcore's errors as httpx's."""
    try:
        return stream.read(max_bytes, timeout=timeout)
    except httpcore.ReadTimeout as error:
        raise httpx.ReadTimeout(str(error)) from error
    except httpcore.ReadError as error:
        raise httpx.ReadError(str(error)) from error
