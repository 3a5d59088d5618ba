"""The webhook signature: what a receiver recomputes, and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac

from common.webhooks.signing import new_secret, signature, verify

BODY = b'{"event":"image.completed"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, BODY) == "sha256=" + expected


def test_verify_accepts_the_real_thing_and_refuses_the_rest() -> None:
    secret = new_secret()
    signed = signature(secret, 1700000000, BODY)
    assert verify(secret, "1700000000", BODY, signed, now=1700000010)
    assert not verify(secret, "1700000000", BODY + b" ", signed, now=1700000010)  # tampered
    assert not verify(new_secret(), "1700000000", BODY, signed, now=1700000010)  # other key
    assert not verify(secret, "1700000001", BODY, signed, now=1700000010)  # other time
    assert not verify(secret, "1700000000", BODY, signed, now=1700000000 + 301)  # replayed
    assert not verify(secret, "abc", BODY, signed, now=1700000010)
    assert new_secret() != new_secret() and new_secret().startswith("whsec_")
