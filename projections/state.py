"""The current state of one credential: an immutable value, one field per credentials column."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from schemas.models import EventType


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"


class CredentialState(NamedTuple):
    """A credential as of its last applied lifecycle event.

    ``seen_source_ips`` holds every address the credential was used from (allowed or denied
    uses), sorted; ``anomaly_count`` counts its audit entries carrying at least one flag.
    ``created_event_id`` is None while the credential's creation has not been seen.
    """

    credential_id: str
    client_id: str
    user_id: str
    display_name: str | None
    scoped_roles: tuple[str, ...]
    allow_source_cidr: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    last_used_at: datetime | None
    expires_time: datetime | None
    deleted_at: datetime | None
    status: CredentialStatus
    last_sequence: int
    last_event_id: uuid.UUID
    last_event_type: EventType
    last_changed_at: datetime
    created_event_id: uuid.UUID | None
    seen_source_ips: tuple[str, ...]
    anomaly_count: int

    @property
    def is_deleted(self) -> bool:
        return self.status is CredentialStatus.DELETED

    def is_expired_at(self, instant: datetime) -> bool:
        """Expired by status, or by an expiry instant at or before ``instant``."""
        if self.status is CredentialStatus.EXPIRED:
            return True
        return self.expires_time is not None and self.expires_time <= instant
