"""Where a webhook may go: http(s) URLs whose host resolves to public addresses only.

A callback URL is checked twice: when it is submitted (a clear 400 for its owner) and again
by the webhooks stage when it connects, because the name may resolve elsewhere by then (DNS
rebinding); the stage then connects to the very address it checked
(``pipeline/webhooks/http.py``). Loopback, private, link-local, multicast and reserved
addresses are refused unless the operator lists their network in ``WEBHOOK_ALLOW_NETWORKS``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.errors import InvalidInput
from common.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
_RESOLVE_TIMEOUT = 5.0


class ForbiddenAddress(InvalidInput):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False)
                         for n in settings.webhook_allow_networks))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
        if any(address in network for network in self.allowed):
            return True
        return address.is_global and not (address.is_multicast or address.is_reserved)


def parse_target(url: str) -> Target:
    """The parts of an acceptable callback URL, or ``InvalidInput`` saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"callback_url inválida: más de {MAX_URL_LENGTH} caracteres")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"callback_url inválida: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("callback_url inválida: use una URL http:// o https://")
    if not parts.hostname:
        raise InvalidInput("callback_url inválida: falta el host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("callback_url inválida: no incluya credenciales en la URL")
    default = 443 if parts.scheme == "https" else 80
    return Target(url.strip(), parts.scheme, parts.hostname, port or default)


async def permitted_addresses(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """The addresses ``host`` resolves to, all permitted; else ``ForbiddenAddress`` (any
    forbidden one refuses the whole name) or ``InvalidInput`` (it does not resolve)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            async with asyncio.timeout(_RESOLVE_TIMEOUT):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            raise InvalidInput(f"callback_url inválida: no se pudo resolver {host}") from None
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    refused = [address for address in found if not policy.permits(address)]
    if refused:
        raise ForbiddenAddress(
            f"callback_url no permitida: {host} es una dirección de loopback, privada o "
            f"local ({refused[0]}); solo se admiten direcciones públicas")
    return [str(address) for address in found]


async def check_callback_url(url: str, policy: AddressPolicy) -> str:
    """The URL, cleaned, once its scheme and every address of its host pass the policy."""
    target = parse_target(url)
    await permitted_addresses(target.host, target.port, policy)
    return target.url
