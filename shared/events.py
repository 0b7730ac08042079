"""Event delivery without Redis: a push as it is POSTed, its signature, the NotificationUrl guard.

Where events are kept (the pull stream, the push records) is ``animgraph.shared.state.events``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from animgraph.shared.errors import ApiError

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "PushRecord",
    "check_callback_url",
    "sign_callback",
    "verify_callback",
]

SIGNATURE_HEADER = "X-Animgraph-Signature"
TIMESTAMP_HEADER = "X-Animgraph-Timestamp"
EVENT_ID_HEADER = "X-Animgraph-Event-Id"


def sign_callback(key: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>``: the signature header of a push."""
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_callback(
    key: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: int = 300
) -> bool:
    """For receivers: True when a push carries a valid, fresh signature of ``body``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = sign_callback(key, timestamp, body)
    return hmac.compare_digest(expected, lowered.get(SIGNATURE_HEADER.lower(), ""))


def check_callback_url(url: str, allowed_hosts: Sequence[str], allow_private: bool) -> None:
    """Refuse a NotificationUrl that is not http(s) or that reaches loopback, link-local or
    private addresses, unless its host is allowed by configuration (SSRF guard)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ApiError(
            f"NotificationUrl {url!r} must be an http:// or https:// URL",
            "InvalidParameterValue.NotificationUrl",
        )
    if allow_private or parsed.hostname in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 80, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ApiError(
            f"NotificationUrl host {parsed.hostname!r} does not resolve",
            "InvalidParameterValue.NotificationUrl",
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ApiError(
                f"NotificationUrl {parsed.hostname!r} resolves to the non-public address "
                f"{address}; allow it with ANIMGRAPH_CALLBACK_ALLOW_HOSTS",
                "InvalidParameterValue.NotificationUrl",
            )


@dataclass(frozen=True)
class PushRecord:
    """One event waiting to be POSTed."""

    key: str
    seq: int
    url: str
    body: str
    event_id: str
    created: float
