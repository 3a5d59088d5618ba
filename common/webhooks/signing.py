"""The webhook signature: HMAC-SHA256 of ``"<timestamp>.<body>"`` with the user's secret.

Every delivery carries ``X-Enhancer-Timestamp`` (Unix seconds) and ``X-Enhancer-Signature:
sha256=<hex>``. Signing the timestamp with the body lets a receiver refuse replays: it
recomputes the HMAC over the raw body it got, compares in constant time and rejects a
timestamp older than a few minutes (``verify``, which receivers written in Python may copy).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Enhancer-Signature"
TIMESTAMP_HEADER = "X-Enhancer-Timestamp"
EVENT_HEADER = "X-Enhancer-Event"
DELIVERY_HEADER = "X-Enhancer-Delivery"
ATTEMPT_HEADER = "X-Enhancer-Attempt"
SCHEME = "sha256="
# How old a signed timestamp a receiver should accept.
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signed: str, *, now: float,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Whether ``signed`` is this body's signature at a timestamp not older than
    ``tolerance`` seconds (nor from the future by as much)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)
