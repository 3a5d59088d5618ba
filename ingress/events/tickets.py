"""Event-stream tickets: how a browser's ``EventSource``, which cannot send headers, opens
``GET /api/{images|videos}/{id}/events``.

``POST .../events/ticket`` (with the usual Bearer header) returns a short-lived token for that
one job's stream; ``GET .../events?ticket=<token>`` then needs no header. A ticket is a JWT
signed with the API's key, typed ``events``, bound to the user and the job, and only opens
that stream: it can neither read nor change anything else. It stays valid for
TICKET_SECONDS, so ``EventSource``'s own reconnects with the same URL keep working for that
long; a client that needs longer asks for a new ticket. It is bound to the session whose
access token asked for it (``sid`` and that token's ``jti``): a logout, or the session's
revocation, ends it at once. The access log never shows it (``common.logs`` redacts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt

from common.errors import AuthError
from common.store.ids import utcnow
from ingress.auth.tokens import ALGORITHM, INVALID_TOKEN, TokenIssuer

TICKET_SECONDS = 300
_TYPE = "events"


@dataclass(frozen=True, slots=True)
class Ticket:
    user_id: str
    kind: str
    job_id: str
    session_id: str  # the session (refresh family) of the access token that asked for it
    access_jti: str  # and that token's own id: a logout revokes both


def issue_ticket(issuer: TokenIssuer, ticket: Ticket) -> str:
    now = utcnow()
    claims = {"sub": ticket.user_id, "kind": ticket.kind, "job": ticket.job_id, "typ": _TYPE,
              "sid": ticket.session_id, "ati": ticket.access_jti,
              "iat": now, "exp": now + timedelta(seconds=TICKET_SECONDS),
              "iss": issuer.issuer, "aud": issuer.audience}
    return jwt.encode(claims, issuer.secret, algorithm=ALGORITHM)


def verify_ticket(issuer: TokenIssuer, token: str, kind: str, job_id: str) -> Ticket:
    """A valid ticket for this job's stream (its session still to be checked against the
    revocations); else the manual's 401."""
    try:
        claims = jwt.decode(token, issuer.secret, algorithms=[ALGORITHM],
                            audience=issuer.audience, issuer=issuer.issuer,
                            options={"require": ["sub", "exp", "typ", "kind", "job", "sid",
                                                 "ati"]})
    except jwt.PyJWTError:
        raise AuthError(INVALID_TOKEN) from None
    if (claims["typ"], claims["kind"], claims["job"]) != (_TYPE, kind, job_id) or not all(
            isinstance(claims[k], str) for k in ("sub", "sid", "ati")):
        raise AuthError(INVALID_TOKEN)
    return Ticket(claims["sub"], kind, job_id, claims["sid"], claims["ati"])
