"""What a simulated stream intends: the final state of every credential and the planted facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class IntendedCredential:
    """The state the simulator means a credential to end in, independent of any projection."""

    credential_id: str
    client_id: str
    user_id: str
    display_name: str
    scoped_roles: set[str]
    allow_source_cidr: set[str]
    created_at: datetime
    expires_time: datetime | None
    status: str = "active"
    updated_at: datetime | None = None
    last_used_at: datetime | None = None
    deleted_at: datetime | None = None
    last_sequence: int = 0


@dataclass
class SimulationSummary:
    """Counts of what a simulation emitted, for the summary line and for tests."""

    credentials: int = 0
    users: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    denied_uses: Counter[str] = field(default_factory=Counter)
    planted_anomalies: Counter[str] = field(default_factory=Counter)
    ipv6_uses: int = 0

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())
