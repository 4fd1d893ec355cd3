"""HTTP ``Range`` requests (RFC 9110 §14): the one parser of the emulator's result host and the gallery's streams.

Only what browsers and download clients send for media is served: a single ``bytes=first-last``,
``bytes=first-`` or ``bytes=-suffix`` range. Malformed and multi-range headers are ignored (RFC 9110 allows
serving the whole content instead); a range that starts past the end is HTTP 416.
"""

from __future__ import annotations

import re

__all__ = ["RangeNotSatisfiable", "byte_range"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes past the end (HTTP 416, with ``Content-Range: bytes */<size>``)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` byte offsets a single-range ``Range`` header asks for in ``size`` bytes, or ``None``
    to serve everything (HTTP 200). A last byte past the end is clipped to the end.

    :raises RangeNotSatisfiable: the range starts at or past ``size``, or is an empty suffix.
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix: the last N bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - int(last), 0), size
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = size if last == "" else min(int(last) + 1, size)
    return (start, end) if start < end else None  # last < first is malformed: ignored
