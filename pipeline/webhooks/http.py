"""One webhook POST, to checked addresses only, within a deadline, never following a redirect.

The connection layer itself enforces the address policy: ``GuardedBackend`` resolves the
host, refuses it if any address is forbidden (``common.webhooks.addresses``) and connects to
the address it checked, so a name that resolved to a public address at submission and to
127.0.0.1 now (DNS rebinding) is refused here. TLS still verifies the certificate against
the URL's host name. Redirects are not followed: a 3xx is a failed attempt, so a receiver
cannot bounce a delivery to an address the policy forbids. No proxy from the environment is
used (httpcore reads none). At most RESPONSE_BYTES of the answer's body are read; the
connection is closed on the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

import httpcore
import httpx

from common.errors import InvalidInput
from common.store.ids import utcnow
from common.webhooks.addresses import AddressPolicy, permitted_addresses
from common.webhooks.records import Outcome

ERROR_CHARS = 300
RESPONSE_BYTES = 4096  # of a receiver's answer, read and dropped; the rest is never read


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy permits."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await permitted_addresses(host, port, self._policy)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _read_some(response: httpcore.Response) -> None:
    """Read at most RESPONSE_BYTES of the body, then stop: the answer is the status, and a
    receiver must not be able to fill the worker's memory with an endless body."""
    read = 0
    async for chunk in response.aiter_stream():
        read += len(chunk)
        if read >= RESPONSE_BYTES:
            break


async def post(url: str, body: bytes, headers: Mapping[str, str], *, policy: AddressPolicy,
               seconds: float) -> Outcome:
    """POST ``body`` to ``url`` within ``seconds``; the outcome, whatever happened (this
    never raises for the receiver's or the network's faults)."""
    at = utcnow()
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    limits = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    try:
        # Whole-request deadline too: per-read timeouts alone let a slow body drip forever.
        async with asyncio.timeout(seconds), httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(policy), ssl_context=httpx.create_ssl_context(),
            max_connections=1, retries=0,
        ) as pool, pool.stream("POST", url, headers=list(headers.items()), content=body,
                               extensions={"timeout": limits}) as response:
            status = response.status
            await _read_some(response)
        if 300 <= status < 400:
            error = f"HTTP {status}: redirección no seguida"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    except InvalidInput as exc:  # forbidden (ForbiddenAddress) or unresolvable now
        error = str(exc)
    except TimeoutError:
        error = f"sin respuesta en {seconds:g} s"
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
            httpcore.UnsupportedProtocol, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.perf_counter() - started) * 1000)
    return Outcome(at=at, status_code=status, error=error and error[:ERROR_CHARS],
                   duration_ms=duration_ms)
