"""A credential's uses grouped by source address and by network (/24 for IPv4, /64 for IPv6;
an IPv4-mapped IPv6 address counts with its IPv4 network), with allowed and denied counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from projections.model.addresses import is_allowed
from projections.queries.rows import AuditEntry
from schemas.addresses import network_text
from schemas.models import EventType, UseOutcome

IPV4_GROUP = 24
IPV6_GROUP = 64


@dataclass
class UseGroup:
    """Uses from one address or network: how many, allowed and denied, first and last."""

    source: str
    uses: int = 0
    allowed: int = 0
    denied: int = 0
    flagged: int = 0
    first: datetime | None = None
    last: datetime | None = None
    addresses: set[str] = field(default_factory=set)
    within_allowed: bool = True
    """Whether every address of the group is within the credential's allowed CIDRs."""

    def count(self, entry: AuditEntry, allowed_cidrs: tuple[str, ...]) -> None:
        self.uses += 1
        self.allowed += entry.outcome is UseOutcome.ALLOWED
        self.denied += entry.outcome is UseOutcome.DENIED
        self.flagged += bool(entry.anomalies)
        self.first = entry.occurred_at if self.first is None else min(self.first, entry.occurred_at)
        self.last = entry.occurred_at if self.last is None else max(self.last, entry.occurred_at)
        address = entry.source_ip or ""
        self.addresses.add(address)
        self.within_allowed &= bool(address) and is_allowed(address, allowed_cidrs)


def network_of(address: str) -> str:
    """The /24 (IPv4, also for an IPv4-mapped address) or /64 (IPv6) holding ``address``."""
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    length = IPV4_GROUP if isinstance(parsed, ipaddress.IPv4Address) else IPV6_GROUP
    return network_text(ipaddress.ip_network((parsed, length), strict=False))


def _ordered(groups: dict[str, UseGroup]) -> list[UseGroup]:
    return sorted(groups.values(), key=lambda group: (-group.uses, group.source))


def group_uses(
    entries: Iterable[AuditEntry], allowed_cidrs: tuple[str, ...]
) -> tuple[list[UseGroup], list[UseGroup]]:
    """The uses among ``entries`` by address and by network, most used first; whether they
    are within ``allowed_cidrs`` (the credential's current ones; empty allows all)."""
    by_address: dict[str, UseGroup] = {}
    by_network: dict[str, UseGroup] = {}
    for entry in entries:
        if entry.event_type is not EventType.USED or entry.source_ip is None:
            continue
        address = entry.source_ip
        by_address.setdefault(address, UseGroup(address)).count(entry, allowed_cidrs)
        network = network_of(address)
        by_network.setdefault(network, UseGroup(network)).count(entry, allowed_cidrs)
    return _ordered(by_address), _ordered(by_network)
