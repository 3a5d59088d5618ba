"""Login throttling: failed attempts per email and per client IP in a sliding window.

Failures are documents in MongoDB (not process memory), so every ingress replica sees the
same counts and a restart does not reset them; a TTL index removes them after the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from common.errors import RateLimited
from common.store.client import Store
from common.store.ids import utcnow

TOO_MANY = "Demasiados intentos de inicio de sesión fallidos. Inténtelo de nuevo más tarde"


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    store: Store
    window: timedelta
    max_per_email: int
    max_per_ip: int

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(f"email:{email}", self.max_per_email)]
        if ip:
            keys.append((f"ip:{ip}", self.max_per_ip))
        return keys

    async def check(self, email: str, ip: str | None) -> None:
        """Raise ``RateLimited`` (429) while either key is over its allowance."""
        since = utcnow() - self.window
        for key, limit in self._keys(email, ip):
            query = {"key": key, "at": {"$gt": since}}
            if await self.store.login_failures.count_documents(query, limit=limit) < limit:
                continue
            # The window reopens once enough of the oldest counted failures have aged out.
            recent = (
                await self.store.login_failures.find(query, {"at": 1})
                .sort("at", -1)
                .skip(limit - 1)
                .limit(1)
                .to_list()
            )
            reopens = recent[0]["at"] + self.window if recent else utcnow() + self.window
            raise RateLimited(TOO_MANY, retry_after=int((reopens - utcnow()).total_seconds()) + 1)

    async def record_failure(self, email: str, ip: str | None) -> None:
        now = utcnow()
        await self.store.login_failures.insert_many(
            [
                {"key": key, "at": now, "expires_at": now + self.window}
                for key, _ in self._keys(email, ip)
            ]
        )

    async def record_success(self, email: str) -> None:
        # The owner got in: earlier typos should not count toward locking them out later.
        await self.store.login_failures.delete_many({"key": f"email:{email}"})
