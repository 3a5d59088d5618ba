"""Password hashing with argon2id through pwdlib (passlib cannot hash with bcrypt 5).

Hashing is deliberately slow (tens of milliseconds, 64 MiB), so it runs in a worker thread
and never blocks the event loop that serves every other request.
"""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so a login for a missing account costs the same
# time as one with a wrong password and response timing does not reveal which emails exist.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-only-used-to-spend-the-same-time")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new_hash): ``new_hash`` is set when the stored hash uses outdated parameters
    and should be replaced; a missing hash still spends a full verification."""
    if stored_hash is None:
        await asyncio.to_thread(_HASHER.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_HASHER.verify_and_update, password, stored_hash)
