"""Webhook signatures, Stripe's scheme: header `Daifa-Signature: t=<unix seconds>,v1=<hex>` where v1 is
HMAC-SHA256 of "<t>.<raw body>" under the endpoint's secret. The platform signs with `sign`; receivers
check with `verify` (also `daifa.verify_webhook`), which refuses a signature older than the tolerance."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Daifa-Signature"
DEFAULT_TOLERANCE = 300  # seconds: a replayed delivery older than this is refused


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE, now: int | None = None) -> bool:
    """Whether `header` signs `body` (the raw bytes received) under `secret`, within `tolerance` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else int(time.time())) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
