"""Alert rules: which anomaly kinds alert, and silences for known cases (pure).

A silenced alert is still recorded; :meth:`AlertRules.decide` only says whether it goes out
and, when it does not, why (a short stable text stored with the alert).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from projections.model.addresses import Address, Network
from projections.model.anomalies import Anomaly, in_order


def utc_text(instant: datetime) -> str:
    """An aware instant as RFC 3339 UTC text with a ``Z`` (``2027-01-01T00:00:00Z``)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _forms(source_ip: str) -> list[Address]:
    """The address and its other spelling: IPv4 <-> IPv4-mapped IPv6 (``::ffff:10.0.0.1``)."""
    try:
        parsed: Address = ipaddress.ip_address(source_ip)
    except ValueError:
        return []
    if isinstance(parsed, ipaddress.IPv6Address):
        return [parsed] if parsed.ipv4_mapped is None else [parsed, parsed.ipv4_mapped]
    return [parsed, ipaddress.IPv6Address(f"::ffff:{parsed}")]


def _in_any(source_ip: str | None, networks: tuple[Network, ...]) -> bool:
    if source_ip is None:
        return False
    return any(
        form in network
        for form in _forms(source_ip)
        for network in networks
        if form.version == network.version
    )


@dataclass(frozen=True)
class Silence:
    """An allow-list entry with an expiry: a known case (a scanner network, a credential
    under investigation) whose alerts are recorded, marked silenced, and not sent.

    It matches an alert from one of ``credentials`` (when given), from an address in one of
    ``networks`` (when given), all of whose kinds are in ``kinds`` (empty: every kind),
    before ``until``. At least one of ``credentials`` and ``networks`` is required: a
    silence of every credential everywhere is what leaving a kind out of the rules does.
    """

    name: str
    until: datetime
    reason: str
    credentials: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    kinds: frozenset[Anomaly] = frozenset()

    def __post_init__(self) -> None:
        if self.until.tzinfo is None or self.until.utcoffset() is None:
            raise ValueError(f"silence {self.name}: until must be timezone-aware")
        if not self.credentials and not self.networks:
            raise ValueError(f"silence {self.name}: needs credentials or networks (or both)")

    def matches(
        self,
        kinds: Collection[Anomaly],
        credential_id: str,
        source_ip: str | None,
        at: datetime,
    ) -> bool:
        """Whether this silence covers an alert with ``kinds`` flagged ``at``."""
        if at >= self.until:
            return False
        if self.credentials and credential_id not in self.credentials:
            return False
        if self.networks and not _in_any(source_ip, self.networks):
            return False
        return not self.kinds or all(kind in self.kinds for kind in kinds)

    def describe(self) -> str:
        """The reason stored with an alert this silence silenced."""
        return f"silence {self.name} until {utc_text(self.until)}: {self.reason}"


@dataclass(frozen=True)
class AlertRules:
    """Which kinds alert (default: every kind), and the silences, first match wins."""

    kinds: frozenset[Anomaly] = frozenset(Anomaly)
    silences: tuple[Silence, ...] = ()

    def decide(
        self,
        kinds: Collection[Anomaly],
        credential_id: str,
        source_ip: str | None,
        at: datetime,
    ) -> str | None:
        """None when the alert goes out, else why it is silenced.

        An alert goes out when at least one of its kinds alerts; silences are then held
        against those alerting kinds only (a kind that does not alert anyway does not keep
        a silence from matching).
        """
        if not kinds:
            raise ValueError("an alert has at least one kind")
        alerting = frozenset(kind for kind in kinds if kind in self.kinds)
        if not alerting:
            names = ",".join(kind.value for kind in in_order(frozenset(kinds)))
            return f"kinds not alerting: {names}"
        for silence in self.silences:
            if silence.matches(alerting, credential_id, source_ip, at):
                return silence.describe()
        return None
