"""
The ``callback_url`` rules of a create request: HTTPS only, at most 2048 characters, never a private, loopback or
reserved address (EvoLink refuses internal addresses; ``airflow_provider_evolink/api_reference/evolink-api.md``).
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation from its string.
import ipaddress
import socket
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

__all__ = ["MAX_CALLBACK_URL_CHARS", "CallbackUrl"]

MAX_CALLBACK_URL_CHARS = 2048


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, also in the legacy forms resolvers accept (``127.1``, ``0x7f000001``)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _callback_url(value: str) -> str:
    """``callback_url`` rules: HTTPS only, ≤ 2048 characters, no private/loopback IP literal host."""
    if len(value) > MAX_CALLBACK_URL_CHARS:
        raise ValueError(f"callback_url must be at most {MAX_CALLBACK_URL_CHARS} characters (got {len(value)})")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("callback_url must be an https:// URL with a host (EvoLink only calls back over HTTPS)")
    host = parts.hostname.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise ValueError("callback_url must not point at localhost (EvoLink refuses internal addresses)")
    address = _ip_literal(host)
    if address is not None and not address.is_global:
        raise ValueError(
            f"callback_url must not point at a private, loopback or reserved IP address ({address}): "
            "EvoLink refuses internal addresses"
        )
    return value


CallbackUrl = Annotated[str, AfterValidator(_callback_url)]
