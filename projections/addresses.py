"""Source addresses against allowed CIDRs, IPv4 and IPv6."""

from __future__ import annotations

import bisect
import ipaddress
from functools import lru_cache

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
