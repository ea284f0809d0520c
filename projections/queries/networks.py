"""Source addresses within a network, decided in SQL where the database can, else in Python.

PostgreSQL compares ``inet`` values exactly. SQLite has no address type, so a text-prefix
condition on the canonical address selects candidates (never fewer than the matches) and
:func:`contains` decides each one exactly. An IPv4 network also contains the IPv4-mapped
IPv6 addresses (``::ffff:10.0.0.1``) of its members, as the projection's allowed-CIDR check
treats them.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from sqlalchemy import Column, cast, literal, or_
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.sql.elements import ColumnElement

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED_PREFIX = 96
"""Length of the ``::ffff:0:0/96`` prefix of IPv4-mapped IPv6 addresses."""


@lru_cache(maxsize=256)
def parse(network: str) -> Network:
    return ipaddress.ip_network(network)


def mapped(network: ipaddress.IPv4Network) -> ipaddress.IPv6Network:
    """The IPv4-mapped IPv6 network holding the same addresses as ``network``."""
    base = int(ipaddress.IPv6Address("::ffff:0.0.0.0")) + int(network.network_address)
    return ipaddress.IPv6Network((base, _MAPPED_PREFIX + network.prefixlen))


def spellings(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """The canonical texts a stored address matching this one may have.

    An IPv4 address also matches its IPv4-mapped IPv6 form, which Python spells
    ``::ffff:a00:1`` (before 3.13) or ``::ffff:10.0.0.1`` (since).
    """
    if isinstance(address, ipaddress.IPv4Address):
        as_ipv6 = ipaddress.IPv6Address(f"::ffff:{address}")
        return sorted({str(address), str(as_ipv6), f"::ffff:{address}"})
    if address.ipv4_mapped is not None:
        return sorted({str(address), f"::ffff:{address.ipv4_mapped}"})
    return [str(address)]


def _networks(network: Network) -> list[Network]:
    if isinstance(network, ipaddress.IPv4Network):
        return [network, mapped(network)]
    return [network]


def contains(network: str, address: str | None) -> bool:
    """Whether ``address`` (canonical text) is in ``network`` or, for IPv4, its mapped form."""
    if address is None:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        parsed.version == candidate.version and parsed in candidate
        for candidate in _networks(parse(network))
    )


def postgresql_condition(column: Column[str], network: str) -> ColumnElement[bool]:
    """Exact containment with PostgreSQL's ``inet`` operators (text equality for one address,
    which the ``source_ip`` index answers)."""
    parsed = parse(network)
    if parsed.num_addresses == 1:
        return column.in_(spellings(parsed.network_address))
    address = cast(column, INET)
    within = address.op("<<=", is_comparison=True)
    return or_(*(within(cast(literal(str(each)), INET)) for each in _networks(parsed)))


def text_prefix_condition(column: Column[str], network: str) -> ColumnElement[bool]:
    """A superset of the matching canonical addresses, by text prefix (SQLite).

    Only whole leading octets (IPv4) or whole, non-zero leading groups (IPv6, whose
    canonical form may compress zero groups) are used: they always appear verbatim.
    """
    parsed = parse(network)
    if parsed.num_addresses == 1:
        return column.in_(spellings(parsed.network_address))
    if isinstance(parsed, ipaddress.IPv4Network):
        octets = str(parsed.network_address).split(".")[: parsed.prefixlen // 8]
        plain = _prefix_like(column, ".".join(octets) + "." if octets else "")
        return or_(plain, column.like("::ffff:%"))
    groups = parsed.network_address.exploded.split(":")[: parsed.prefixlen // 16]
    leading: list[str] = []
    for group in groups:
        if int(group, 16) == 0:
            break
        leading.append(format(int(group, 16), "x"))
    return _prefix_like(column, ":".join(leading) + ":" if leading else "")


def _prefix_like(column: Column[str], prefix: str) -> ColumnElement[bool]:
    if not prefix:
        return column.is_not(None)
    return column.like(prefix + "%")
