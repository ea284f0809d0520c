"""The address guard: a delivery goes only to public addresses, unless allowed explicitly.

A webhook URL names a host; the host's addresses are resolved once, checked, and the
delivery connects to the checked addresses (not to a second resolution, which a hostile
DNS server could answer differently). Refused: loopback, private, link-local, multicast,
unspecified, reserved, shared (100.64.0.0/10) and site-local addresses, and the same
inside IPv4-mapped (``::ffff:127.0.0.1``), NAT64 (``64:ff9b::/96``), 6to4 and Teredo
addresses, unless the address is inside one of the allowed networks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any

from projections.model.addresses import Address, Network
from schemas.addresses import address_text

Resolver = Callable[[str, int, int, int], Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]
"""``socket.getaddrinfo`` called as ``(host, port, family, type)``."""

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_BITS = 0xFFFFFFFF


class AddressRefused(ValueError):  # noqa: N818 (the name the relay uses)
    """A destination the guard does not let a delivery go to."""


def _forms(address: Address) -> list[Address]:
    """The addresses whose kind decides: an IPv4-mapped or NAT64 address is its IPv4
    address; a 6to4 or Teredo address is the IPv4 addresses inside it, then itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & _V4_BITS)]
    forms: list[Address] = []
    if address.sixtofour is not None:
        forms.append(address.sixtofour)
    if address.teredo is not None:
        forms.extend(address.teredo)
    return [*forms, address]


def _why_refused(address: Address) -> str | None:
    """What kind of non-public address ``address`` is, or None for a public one."""
    checks: list[tuple[bool, str]] = [
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED,
         "shared address space (100.64.0.0/10)"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally reachable"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def _is_allowed(address: Address, allowed: Sequence[Network]) -> bool:
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(
        candidate in network
        for candidate in candidates
        for network in allowed
        if candidate.version == network.version
    )


def _resolve(host: str, port: int, resolve: Resolver) -> list[Address]:
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    try:
        answers = resolve(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"{host!r}: cannot resolve: {exc}") from None
    found: list[Address] = []
    for answer in answers:
        text = str(answer[4][0]).partition("%")[0]
        try:
            found.append(ipaddress.ip_address(text))
        except ValueError:
            raise AddressRefused(f"{host!r}: resolved to a non-IP address {text!r}") from None
    return found


def check_destination(
    host: str,
    port: int,
    allowed: Sequence[Network],
    resolve: Resolver = socket.getaddrinfo,
) -> list[str]:
    """The addresses of ``host`` (canonical text, resolver order, no repeats), every one
    checked; AddressRefused, naming the host, the address and why, if any is refused."""
    if not 1 <= port <= 65535:
        raise AddressRefused(f"{host!r}: port {port} is not between 1 and 65535")
    addresses = _resolve(host, port, resolve)
    if not addresses:
        raise AddressRefused(f"{host!r}: resolved to no addresses")
    checked: list[str] = []
    for address in addresses:
        text = address_text(address)
        if not _is_allowed(address, allowed):
            for form in _forms(address):
                reason = _why_refused(form)
                if reason is not None:
                    inside = "" if form == address else f" (inside it: {form})"
                    raise AddressRefused(f"{host!r}: address {text} is {reason}{inside}")
        if text not in checked:
            checked.append(text)
    return checked
