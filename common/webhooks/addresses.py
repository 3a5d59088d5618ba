"""Where a webhook may go: http(s) URLs whose host resolves to public addresses only.

A callback URL is checked twice: when it is submitted (a clear 400 for its owner) and again
by the webhooks stage when it connects, because the name may resolve elsewhere by then (DNS
rebinding); the stage then connects to the very address it checked
(``pipeline/webhooks/http.py``). Loopback, private, link-local, multicast and reserved
addresses are refused unless the operator lists their network in ``WEBHOOK_ALLOW_NETWORKS``;
an IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by the IPv4
it carries, the same on every Python (3.11's flags call 6to4 and site-local addresses global).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.errors import InvalidInput
from common.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
_RESOLVE_TIMEOUT = 5.0


def _ipv6() -> str:
    """RFC 3986's IPv6address, form by form (the forms ``ipaddress`` reads, no zone ids)."""
    h16 = "[0-9A-Fa-f]{1,4}"
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ls32 = f"(?:{h16}:{h16}|{octet}(?:[.]{octet}){{3}})"

    def head(n: int) -> str:  # [ *n( h16 ":" ) h16 ]
        return f"(?:(?:{h16}:){{0,{n}}}{h16})?"

    forms = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}",
             f"{head(0)}::(?:{h16}:){{4}}{ls32}", f"{head(1)}::(?:{h16}:){{3}}{ls32}",
             f"{head(2)}::(?:{h16}:){{2}}{ls32}", f"{head(3)}::{h16}:{ls32}",
             f"{head(4)}::{ls32}", f"{head(5)}::{h16}", f"{head(6)}::"]
    return "(?:" + "|".join(forms) + ")"


_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
# What a callback URL may look like, as /openapi.json states it and parse_target applies it:
# http(s), a host (a name of DNS labels, which includes dotted IPv4, or a bracketed IPv6),
# an optional port 1-65535, then path, query and fragment in visible ASCII (no spaces, no
# credentials). Empty means "none". Where the host may lead is checked after (AddressPolicy).
CALLBACK_URL_PATTERN = (
    f"^(?:[Hh][Tt][Tt][Pp][Ss]?://(?:{_LABEL}(?:[.]{_LABEL})*|\\[{_ipv6()}\\])"
    f"(?::{_PORT})?(?:[/?#][!-~]*)?)?$"
)
_CALLBACK_URL = re.compile(CALLBACK_URL_PATTERN)


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
        if any(address in network for network in self.allowed):
            return True
        if isinstance(address, ipaddress.IPv6Address):
            if address.is_site_local or any(address in net for net in _NEVER_V6):
                return False
            embedded = embedded_ipv4(address)
            if embedded:  # judged by where they lead: 2002:7f00:1:: is 127.0.0.1
                return all(self.permits(inner) for inner in embedded)
        return address.is_global and not (address.is_multicast or address.is_reserved)


# Never a webhook's destination, whatever Python's flags say of them (3.11 calls fec0::/10
# and ::/96 global): IPv4-compatible (deprecated, ::127.0.0.1), NAT64's local-use prefix
# (its IPv4 may sit at several offsets) and the deprecated site-local range.
_NEVER_V6 = tuple(ipaddress.IPv6Network(n) for n in ("::/96", "64:ff9b:1::/48", "fec0::/10"))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo server and client,
    NAT64's well-known prefix): a packet to it reaches, or is relayed on behalf of, them."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def parse_target(url: str) -> Target:
    """The parts of a callback URL written as CALLBACK_URL_PATTERN says (not empty), or
    ``InvalidInput`` saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"callback_url inválida: más de {MAX_URL_LENGTH} caracteres")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"callback_url inválida: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("callback_url inválida: use una URL http:// o https://")
    if not parts.hostname:
        raise InvalidInput("callback_url inválida: falta el host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("callback_url inválida: no incluya credenciales en la URL")
    if not url or not _CALLBACK_URL.fullmatch(url):
        raise InvalidInput("callback_url inválida: escríbala como http(s)://host[:puerto][/ruta], "
                           "con un host válido y sin espacios ni caracteres fuera de ASCII")
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname, port or default)


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
        except (OSError, TimeoutError, UnicodeError):  # UnicodeError: a name IDNA cannot encode
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
