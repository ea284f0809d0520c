"""The one canonical text of an IP address or network, whatever the Python version.

Python's ``ipaddress`` writes IPv6 in RFC 5952 form (lower case, the longest run of zero
groups compressed), except that before 3.13 it wrote IPv4-mapped addresses in hex
(``::ffff:a01:203``) and since 3.13 in the dotted form (``::ffff:10.1.2.3``). RFC 5952
section 5 recommends the dotted form, which is also what a search for ``10.1.2.3`` in an
export or a SIEM finds; this module writes it on every version, so stored text and the
hashes over it do not depend on the interpreter.
"""

from __future__ import annotations

import ipaddress

MAPPED_PREFIX_LENGTH = 96
"""Bits of the ``::ffff:0:0/96`` prefix of IPv4-mapped IPv6 addresses."""

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def address_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The canonical text of an address: dotted quad for IPv4 and for IPv4-mapped IPv6
    (``::ffff:10.1.2.3``), RFC 5952 for the rest of IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def network_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The canonical text of a network: a network inside ``::ffff:0:0/96`` is written with
    its dotted IPv4 part (``::ffff:10.0.0.0/104``), every other one as ``ipaddress`` does."""
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen >= MAPPED_PREFIX_LENGTH
        and network.subnet_of(_MAPPED)
    ):
        return f"{address_text(network.network_address)}/{network.prefixlen}"
    return str(network)


def canonical_address(text: str) -> str:
    """The canonical text of an address given as text (ValueError if it is not one)."""
    return address_text(ipaddress.ip_address(text))
