"""Login throttling: attempts per email and per client IP in a time window.

An attempt takes its place in both allowances *before* the password is checked (an atomic,
guarded ``$inc``: :mod:`common.store.counters`), so however many attempts arrive at once, on
however many API replicas, at most the limit of passwords is ever checked; a failed attempt
simply keeps its place. The counts live in MongoDB, so every replica sees them and a restart
does not reset them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from common.errors import RateLimited
from common.store.client import Store
from common.store.counters import clear, give_back, reserve
from common.store.ids import utcnow

TOO_MANY = "Demasiados intentos de inicio de sesión fallidos. Inténtelo de nuevo más tarde"


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    store: Store
    window: timedelta
    max_per_email: int
    max_per_ip: int

    @staticmethod
    def _email_key(email: str) -> str:
        return f"login:email:{email}"

    def _allowances(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(self._email_key(email), self.max_per_email)]
        if ip:
            keys.append((f"login:ip:{ip}", self.max_per_ip))
        return keys

    async def reserve(self, email: str, ip: str | None) -> None:
        """Take one attempt from the email's and the IP's allowances, or raise
        ``RateLimited`` (429, ``Retry-After``: when the window reopens) taking nothing."""
        taken: list[str] = []
        for key, limit in self._allowances(email, ip):
            reopens = await reserve(self.store.rate_limits, key, limit, self.window)
            if reopens is not None:
                for earlier in taken:
                    await give_back(self.store.rate_limits, earlier)
                wait = int((reopens - utcnow()).total_seconds()) + 1
                raise RateLimited(TOO_MANY, retry_after=wait)
            taken.append(key)

    async def succeeded(self, email: str, ip: str | None) -> None:
        """The owner got in: earlier typos no longer count toward locking the email, and the
        address gets this attempt back (only failures count against an address)."""
        await clear(self.store.rate_limits, self._email_key(email))
        for key, _ in self._allowances(email, ip)[1:]:
            await give_back(self.store.rate_limits, key)
