"""The SSRF policy: schemes, credentials, and every resolved address checked (real DNS for
names that resolve locally, literals otherwise)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from common.errors import InvalidInput
from common.settings import Settings
from common.webhooks.addresses import (
    CALLBACK_URL_PATTERN,
    AddressPolicy,
    ForbiddenAddress,
    check_callback_url,
    parse_target,
    permitted_addresses,
)

STRICT = AddressPolicy()
LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.86.20", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not STRICT.permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 wrapping 169.254.169.254
    "64:ff9b::7f00:1", "64:ff9b::a00:1",  # NAT64 to 127.0.0.1, 10.0.0.1
    "64:ff9b:1::a00:1",  # NAT64 local-use prefix
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "fec0::1", "feff::1",  # site-local
    "::127.0.0.1", "::8.8.8.8",  # IPv4-compatible (deprecated)
])
def test_ipv6_carrying_a_non_public_ipv4_or_deprecated_is_refused(address: str) -> None:
    # Python 3.11 calls 6to4 and site-local addresses global: the policy must not rely on it.
    assert not STRICT.permits(ipaddress.ip_address(address))


def test_ipv6_carrying_a_public_ipv4_is_judged_by_it() -> None:
    assert STRICT.permits(ipaddress.ip_address("2002:808:808::1"))  # 6to4 of 8.8.8.8
    assert STRICT.permits(ipaddress.ip_address("64:ff9b::808:808"))  # NAT64 of 8.8.8.8
    assert LOOPBACK.permits(ipaddress.ip_address("2002:7f00:1::1"))


async def test_a_6to4_literal_to_loopback_is_refused_as_a_callback() -> None:
    with pytest.raises(ForbiddenAddress):
        await check_callback_url("http://[2002:7f00:1::1]:8080/hook", STRICT)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_permitted(address: str) -> None:
    assert STRICT.permits(ipaddress.ip_address(address))


def test_an_operator_network_is_permitted_and_nothing_else_is() -> None:
    assert LOOPBACK.permits(ipaddress.ip_address("127.0.0.1"))
    assert LOOPBACK.permits(ipaddress.ip_address("::ffff:127.0.0.2"))
    assert not LOOPBACK.permits(ipaddress.ip_address("10.0.0.1"))
    policy = AddressPolicy.from_settings(Settings(_env_file=None,  # type: ignore[call-arg]
                                                  webhook_allow_networks="10.0.0.0/8"))
    assert policy.permits(ipaddress.ip_address("10.9.9.9"))
    assert not policy.permits(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize(("url", "says"), [
    ("ftp://example.com/x", "http:// o https://"),
    ("file:///etc/passwd", "http:// o https://"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "http:// o https://"),
    ("https:///nohost", "falta el host"),
    ("https://user:pw@example.com/", "credenciales"),
    ("https://example.com:99999/", "inválida"),
    ("https://example.com/" + "a" * 2100, "caracteres"),
    (" https://example.com/hook", "sin espacios"),
    ("https://example.com/a b", "sin espacios"),
    ("https://exa..mple.com/", "host válido"),
    ("https://example.com:0/", "puerto"),
    ("https://[1:::2]/", "inválida"),
])
def test_bad_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_target(url)


def test_default_ports() -> None:
    assert parse_target("https://example.com/hook").port == 443
    assert parse_target("http://example.com/hook").port == 80
    assert parse_target("http://example.com:8080/hook").port == 8080


async def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    with pytest.raises(ForbiddenAddress, match="localhost"):
        await permitted_addresses("localhost", 80, STRICT)
    assert "127.0.0.1" in await permitted_addresses("localhost", 80, LOOPBACK)
    with pytest.raises(ForbiddenAddress):
        await check_callback_url("http://169.254.169.254/latest/meta-data/", STRICT)
    with pytest.raises(ForbiddenAddress):
        await check_callback_url("http://[::1]:8080/", STRICT)
    assert await check_callback_url("https://93.184.216.34/hook", STRICT) == \
        "https://93.184.216.34/hook"


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no se pudo resolver"):
        await permitted_addresses("no-such-host.invalid", 443, STRICT)
    for unencodable in ("a..b", "x" * 64 + ".com"):  # IDNA refuses these: UnicodeError
        with pytest.raises(InvalidInput, match="no se pudo resolver"):
            await permitted_addresses(unencodable, 443, STRICT)


@pytest.mark.parametrize("url", [
    "http://a", "HTTPS://Example.COM:65535/x?y=1#z", "http://[::1]/", "http://[1::2:3]:8/",
    "http://[::ffff:10.0.0.1]:8080/x", "http://[1:2:3:4:5:6:1.2.3.4]/", "http://1.2.3.4/",
])
def test_what_the_pattern_admits_parses(url: str) -> None:
    """CALLBACK_URL_PATTERN (the document's rule) and parse_target agree on these forms."""
    assert re.fullmatch(CALLBACK_URL_PATTERN, url)
    target = parse_target(url)
    assert target.url == url and target.scheme in ("http", "https")
