"""Source addresses: against allowed CIDRs and searched networks, IPv4 and IPv6 (pure)."""

from __future__ import annotations

import bisect
import ipaddress
from functools import lru_cache

from schemas.addresses import address_text

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


@lru_cache(maxsize=1 << 16)
def _address_key(address: str) -> tuple[int, int]:
    parsed = ipaddress.ip_address(address)
    return parsed.version, int(parsed)


@lru_cache(maxsize=1 << 16)
def is_allowed(address: str, allowed_cidrs: tuple[str, ...]) -> bool:
    """Whether ``address`` may use a credential limited to ``allowed_cidrs``.

    An empty list allows every address. An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``)
    also matches the IPv4 networks its IPv4 address is in. Pure, so answers are cached:
    a credential is used from the same few addresses again and again.
    """
    if not allowed_cidrs:
        return True
    parsed: Address = ipaddress.ip_address(address)
    candidates: list[Address] = [parsed]
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        candidates.append(parsed.ipv4_mapped)
    return any(
        candidate in network
        for network in _networks(allowed_cidrs)
        for candidate in candidates
        if candidate.version == network.version
    )


def with_address(addresses: tuple[str, ...], address: str) -> tuple[str, ...]:
    """``addresses`` (sorted, IPv4 before IPv6) with ``address`` added if it is not in it."""
    if address in addresses:
        return addresses
    merged = list(addresses)
    bisect.insort(merged, address, key=_address_key)
    return tuple(merged)


_MAPPED_PREFIX = 96
"""Length of the ``::ffff:0:0/96`` prefix of IPv4-mapped IPv6 addresses."""


@lru_cache(maxsize=256)
def parse_network(network: str) -> Network:
    """A network from its CIDR text (already validated)."""
    return ipaddress.ip_network(network)


def mapped(network: ipaddress.IPv4Network) -> ipaddress.IPv6Network:
    """The IPv4-mapped IPv6 network holding the same addresses as ``network``."""
    base = int(ipaddress.IPv6Address("::ffff:0.0.0.0")) + int(network.network_address)
    return ipaddress.IPv6Network((base, _MAPPED_PREFIX + network.prefixlen))


def with_mapped(network: Network) -> list[Network]:
    """The network, and for an IPv4 network also its IPv4-mapped IPv6 form."""
    if isinstance(network, ipaddress.IPv4Network):
        return [network, mapped(network)]
    return [network]


def spellings(address: Address) -> list[str]:
    """The stored (canonical) texts of the addresses a search for ``address`` matches: an
    IPv4 address also matches its IPv4-mapped IPv6 form (``::ffff:10.0.0.1``)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [str(address), f"::ffff:{address}"]
    return [address_text(address)]


def network_contains(network: str, address: str | None) -> bool:
    """Whether ``address`` (canonical text) is in ``network`` or, for IPv4, its mapped form."""
    if address is None:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        parsed.version == candidate.version and parsed in candidate
        for candidate in with_mapped(parse_network(network))
    )
