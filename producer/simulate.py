"""A realistic, reproducible stream of credential lifecycle events.

Several users create credentials, scope and re-scope roles, use them from allowed and
disallowed IPv4/IPv6 sources, extend expiries, let them expire and delete them. A few
uses are planted as anomalies (allowed after deletion, after expiry, from outside the
allowed CIDRs). Per-credential sequences are 1, 2, 3, ...; the stream is ordered by the
instant each event occurred.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from producer.simulation_model import IntendedCredential, SimulationSummary
from schemas.models import (
    ActorKind,
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    DenialReason,
    EventType,
    LifecycleEvent,
    UseOutcome,
)

ROLES = (
    "viewer",
    "editor",
    "admin",
    "billing.reader",
    "storage.writer",
    "storage.reader",
    "compute.operator",
    "audit.reader",
    "kms.decrypter",
    "iam.serviceAccountUser",
)
ALLOWED_NETWORKS = (
    "10.20.0.0/16",
    "10.30.4.0/24",
    "192.168.10.0/24",
    "172.16.0.0/12",
    "2001:db8:1::/48",
    "2001:db8:abcd:12::/64",
    "fd00:ab::/32",
)
FOREIGN_NETWORKS = ("198.51.100.0/24", "203.0.113.0/24", "2001:db8:ffff::/48", "100.64.0.0/10")
DISPLAY_NAMES = (
    "CI deploy key",
    "Jupyter notebook",
    "Terraform runner",
    "Données export ✓",
    "拡張 token",
    "backup-job",
    "Grafana datasource",
    "Zürich laptop",
    "ETL — nightly",
)
UNRESTRICTED_SHARE = 0.2
NEVER_EXPIRES_SHARE = 0.2


@dataclass(frozen=True)
class SimulationConfig:
    credentials: int = 50
    events_per_credential: int = 10
    users: int | None = None
    seed: int = 7
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class Simulation:
    """Generates the stream and records what it intends; iterate ``events()`` once."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        users = config.users or max(3, config.credentials // 4)
        self.user_ids = [f"user-{index:04d}" for index in range(1, users + 1)]
        self.intended: dict[str, IntendedCredential] = {}
        self.summary = SimulationSummary(credentials=config.credentials, users=users)
        self._usual_sources: dict[str, list[str]] = {}

    def events(self) -> Iterator[LifecycleEvent]:
        """Every credential's timeline, merged in order of occurrence."""
        timelines = [self._timeline(index) for index in range(self.config.credentials)]
        merged = heapq.merge(*timelines, key=lambda event: (event.occurred_at, event.credential_id))
        for event in merged:
            self.summary.events_by_type[event.event_type.value] += 1
            yield event

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _timeline(self, index: int) -> Iterator[LifecycleEvent]:
        rng = self.rng
        credential = self._create(index)
        self.intended[credential.credential_id] = credential
        clock = credential.created_at
        yield self._created(credential)
        budget = max(1, int(rng.uniform(0.5, 1.5) * self.config.events_per_credential) - 1)
        for _ in range(budget):
            clock += timedelta(seconds=rng.expovariate(1 / 14400) + 1)
            if (
                credential.status == "active"
                and credential.expires_time is not None
                and credential.expires_time <= clock
            ):
                yield self._expired(credential)
                clock = max(clock, credential.expires_time) + timedelta(seconds=1)
                continue
            event = self._next_action(credential, clock)
            if event is not None:
                yield event

    def _create(self, index: int) -> IntendedCredential:
        rng = self.rng
        created_at = self.config.start + timedelta(seconds=rng.uniform(0, 3 * 86400))
        cidrs: set[str] = set()
        if rng.random() > UNRESTRICTED_SHARE:
            cidrs = set(rng.sample(ALLOWED_NETWORKS, rng.randint(1, 3)))
        expires = None
        if rng.random() > NEVER_EXPIRES_SHARE:
            expires = created_at + timedelta(days=rng.uniform(0.5, 5))
        return IntendedCredential(
            credential_id=f"cred-{index:06d}-{rng.getrandbits(32):08x}",
            client_id=f"client-{rng.getrandbits(48):012x}",
            user_id=rng.choice(self.user_ids),
            display_name=rng.choice(DISPLAY_NAMES),
            scoped_roles=set(rng.sample(ROLES, rng.randint(0, 4))),
            allow_source_cidr={str(ipaddress.ip_network(cidr)) for cidr in cidrs},
            created_at=created_at,
            expires_time=expires,
            updated_at=created_at,
        )

    def _envelope(
        self,
        credential: IntendedCredential,
        kind: EventType,
        at: datetime,
        actor: tuple[ActorKind, str],
        source: str,
    ) -> dict[str, Any]:
        credential.last_sequence += 1
        return {
            "eventId": self._uuid(),
            "eventType": kind,
            "credentialId": credential.credential_id,
            "clientId": credential.client_id,
            "userId": credential.user_id,
            "occurredAt": at,
            "recordedAt": at + timedelta(milliseconds=self.rng.randint(1, 1500)),
            "sequence": credential.last_sequence,
            "actor": {"kind": actor[0], "id": actor[1]},
            "correlationId": str(self._uuid()),
            "source": source,
        }

    def _owner(self, credential: IntendedCredential) -> tuple[ActorKind, str]:
        if self.rng.random() < 0.1:
            return ActorKind.USER, "secops-admin"
        return ActorKind.USER, credential.user_id

    def _created(self, credential: IntendedCredential) -> CredentialCreated:
        at = credential.created_at
        return CredentialCreated(
            envelope=self._envelope(
                credential, EventType.CREATED, at, self._owner(credential), "iam-api"
            ),
            credential={
                "id": credential.credential_id,
                "clientId": credential.client_id,
                "userId": credential.user_id,
                "displayName": credential.display_name,
                "scopedRoles": sorted(credential.scoped_roles),
                "allowSourceCidr": sorted(credential.allow_source_cidr),
                "createdAt": at,
                "updatedAt": at,
                "expiresTime": credential.expires_time,
            },
        )

    def _expired(self, credential: IntendedCredential) -> CredentialExpired:
        expires = credential.expires_time
        assert expires is not None
        envelope = self._envelope(
            credential,
            EventType.EXPIRED,
            expires,
            (ActorKind.SYSTEM, "expiry-sweeper"),
            "expiry-sweeper",
        )
        credential.status = "expired"
        credential.updated_at = expires
        return CredentialExpired(envelope=envelope, expires_time=expires)

    def _next_action(self, credential: IntendedCredential, at: datetime) -> LifecycleEvent | None:
        roll = self.rng.random()
        if credential.status == "deleted":
            if roll < 0.06:
                self.summary.planted_anomalies["USE_AFTER_DELETION"] += 1
                return self._use(credential, at, allowed_source=True, outcome=UseOutcome.ALLOWED)
            return self._use(credential, at, allowed_source=True, reason=DenialReason.DELETED)
        if credential.status == "expired":
            if roll < 0.05:
                self.summary.planted_anomalies["USE_AFTER_EXPIRY"] += 1
                return self._use(credential, at, allowed_source=True, outcome=UseOutcome.ALLOWED)
            if roll < 0.45:
                return self._use(credential, at, allowed_source=True, reason=DenialReason.EXPIRED)
            if roll < 0.65:
                return self._update(credential, at, extend=True)
            if roll < 0.75:
                return self._delete(credential, at)
            return None
        if roll < 0.50:
            return self._use(credential, at, allowed_source=True, outcome=UseOutcome.ALLOWED)
        if roll < 0.60 and credential.allow_source_cidr:
            return self._use(
                credential, at, allowed_source=False, reason=DenialReason.OUTSIDE_ALLOWED_CIDRS
            )
        if roll < 0.61 and credential.allow_source_cidr:
            self.summary.planted_anomalies["USE_OUTSIDE_ALLOWED_CIDRS"] += 1
            return self._use(credential, at, allowed_source=False, outcome=UseOutcome.ALLOWED)
        if roll < 0.74:
            return self._scope_roles(credential, at)
        if roll < 0.90:
            return self._update(credential, at, extend=self.rng.random() < 0.4)
        if roll < 0.94:
            return self._delete(credential, at)
        return None

    def _source_ip(self, credential: IntendedCredential, allowed_source: bool) -> str:
        """Mostly one of the few addresses a credential is usually used from; sometimes new."""
        usual = self._usual_sources.setdefault(credential.credential_id, [])
        fitting = [ip for ip in usual if self._allowed(credential, ip) == allowed_source]
        if fitting and self.rng.random() < 0.85:
            return self.rng.choice(fitting)
        address = self._new_source_ip(credential, allowed_source)
        usual.append(address)
        return address

    @staticmethod
    def _allowed(credential: IntendedCredential, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        networks = [ipaddress.ip_network(cidr) for cidr in credential.allow_source_cidr]
        return not networks or any(ip in network for network in networks)

    def _new_source_ip(self, credential: IntendedCredential, allowed_source: bool) -> str:
        pool = sorted(credential.allow_source_cidr) if allowed_source else list(FOREIGN_NETWORKS)
        if not pool:
            pool = list(ALLOWED_NETWORKS + FOREIGN_NETWORKS)
        network = ipaddress.ip_network(self.rng.choice(pool))
        host_bits = network.max_prefixlen - network.prefixlen
        offset = self.rng.randint(1, min(2**host_bits - 2, 2**16)) if host_bits > 1 else 0
        return str(network.network_address + offset)

    def _use(
        self,
        credential: IntendedCredential,
        at: datetime,
        allowed_source: bool,
        outcome: UseOutcome = UseOutcome.DENIED,
        reason: DenialReason | None = None,
    ) -> CredentialUsed:
        source_ip = self._source_ip(credential, allowed_source)
        if ipaddress.ip_address(source_ip).version == 6:
            self.summary.ipv6_uses += 1
        if outcome is UseOutcome.ALLOWED:
            credential.last_used_at = at
        else:
            self.summary.denied_uses[str(reason)] += 1
        envelope = self._envelope(
            credential, EventType.USED, at, (ActorKind.USER, credential.user_id), "api-gateway"
        )
        return CredentialUsed(
            envelope=envelope,
            source_ip=source_ip,
            used_at=at,
            outcome=outcome,
            denial_reason=reason,
        )

    def _scope_roles(self, credential: IntendedCredential, at: datetime) -> CredentialRolesScoped:
        roles = set(credential.scoped_roles)
        if roles and self.rng.random() < 0.4:
            roles.discard(self.rng.choice(sorted(roles)))
        else:
            roles.add(self.rng.choice(ROLES))
        envelope = self._envelope(
            credential, EventType.ROLES_SCOPED, at, self._owner(credential), "iam-api"
        )
        credential.scoped_roles = roles
        credential.updated_at = at
        return CredentialRolesScoped(envelope=envelope, scoped_roles=sorted(roles))

    def _update(
        self, credential: IntendedCredential, at: datetime, extend: bool
    ) -> CredentialUpdated:
        changes: dict[str, Any] = {}
        if extend:
            credential.expires_time = at + timedelta(days=self.rng.uniform(1, 10))
            changes["expires_time"] = credential.expires_time
            if credential.status == "expired":
                credential.status = "active"
        elif self.rng.random() < 0.5:
            credential.display_name = self.rng.choice(DISPLAY_NAMES) + " (renamed)"
            changes["display_name"] = credential.display_name
        else:
            count = self.rng.randint(0, 3)
            credential.allow_source_cidr = set(self.rng.sample(ALLOWED_NETWORKS, count))
            changes["allow_source_cidr"] = sorted(credential.allow_source_cidr)
        envelope = self._envelope(
            credential, EventType.UPDATED, at, self._owner(credential), "iam-api"
        )
        credential.updated_at = at
        return CredentialUpdated(envelope=envelope, **changes)

    def _delete(self, credential: IntendedCredential, at: datetime) -> CredentialDeleted:
        envelope = self._envelope(
            credential, EventType.DELETED, at, self._owner(credential), "iam-api"
        )
        credential.status = "deleted"
        credential.deleted_at = at
        credential.updated_at = at
        reason = self.rng.choice([None, "rotated", "owner left the team", "compromised?"])
        return CredentialDeleted(envelope=envelope, deleted_at=at, reason=reason)
