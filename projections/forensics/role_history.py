"""Role history: through which credentials, and when, a scoped role was held.

A credential holds a role while the role is in its scoped roles and it is not deleted:
holding starts with the event that scopes the role in (a creation, or a roles-scoped event
adding it) and ends with the event that scopes it out or deletes the credential; removed
and added again gives two intervals. Expiry does **not** end holding: the role stays
scoped and an update with a later expiry brings the credential back with it. Instead each
interval lists the status changes (``expired``, ``active`` again) that happened while the
role was held (and the status when it was granted, if not active), so an investigator sees
when it could not be used.

Intervals follow each credential's events in sequence order (the fold's order), at the
instants the events occurred; an interval still open after the last event has no end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from projections.db.history import histories
from projections.forensics.candidates import credentials_mentioning_role
from projections.model.credential import CredentialState, CredentialStatus
from projections.model.fold import fold_steps
from schemas.models import EventType, LifecycleEvent


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The credential's status became ``status`` at ``at`` (while the role was held)."""

    at: datetime
    status: CredentialStatus


@dataclass(frozen=True, slots=True)
class RoleInterval:
    """One stretch of time during which a credential held a role.

    ``held_until`` is None while still held; ``ended_by`` is the type of the event that
    ended it (ROLES_SCOPED: scoped out; DELETED: credential deleted), None while held.
    """

    credential_id: str
    user_id: str
    client_id: str
    role: str
    held_from: datetime
    granted_by: EventType
    held_until: datetime | None = None
    ended_by: EventType | None = None
    status_changes: tuple[StatusChange, ...] = field(default_factory=tuple)

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """Whether the role was held at some instant of ``[start, end)`` (None: unbounded)."""
        if end is not None and self.held_from >= end:
            return False
        return start is None or self.held_until is None or self.held_until > start


@dataclass
class _Open:
    held_from: datetime
    granted_by: EventType
    status: CredentialStatus
    changes: list[StatusChange] = field(default_factory=list)


def role_intervals(events: Iterable[LifecycleEvent], role: str) -> list[RoleInterval]:
    """The intervals during which one credential held ``role``, in time order."""
    intervals: list[RoleInterval] = []
    current: _Open | None = None
    last: CredentialState | None = None
    for event, transition in fold_steps(events):
        state = last = transition.state
        held = role in state.scoped_roles and not state.is_deleted
        if current is None and held:
            current = _Open(event.occurred_at, event.event_type, state.status)
            if state.status is not CredentialStatus.ACTIVE:
                current.changes.append(StatusChange(event.occurred_at, state.status))
        elif current is not None and not held:
            intervals.append(
                RoleInterval(
                    state.credential_id, state.user_id, state.client_id, role,
                    current.held_from, current.granted_by, event.occurred_at, event.event_type,
                    tuple(current.changes),
                )
            )
            current = None
        elif current is not None and state.status is not current.status:
            current.changes.append(StatusChange(event.occurred_at, state.status))
            current.status = state.status
    if current is not None and last is not None:
        intervals.append(
            RoleInterval(
                last.credential_id, last.user_id, last.client_id, role, current.held_from,
                current.granted_by, status_changes=tuple(current.changes),
            )
        )
    return intervals


def role_history(
    connection: Connection, role: str, start: datetime | None = None, end: datetime | None = None
) -> Iterator[RoleInterval]:
    """Every interval in which a credential held ``role`` at some instant of ``[start, end)``,
    by credential id then time. Intervals are whole (not cut to the window)."""
    candidates = credentials_mentioning_role(connection, role, end)
    for _credential_id, events in histories(connection, candidates):
        for interval in role_intervals(events, role):
            if interval.overlaps(start, end):
                yield interval
