"""One credential's story: every audit entry with the state it left and what it changed.

The entries are read once, in the fold's order (sequence, then audit position), refolded
with :func:`projections.model.fold.fold_steps`, and each step diffed with the state before
it (:mod:`projections.model.changes`). The whole history is read: a credential used a
million times takes as long as reading a million rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from projections.db.rows import event_from_payload
from projections.db.tables import audit_log
from projections.model.changes import Change, changes_between
from projections.model.credential import CredentialState
from projections.model.fold import fold_steps
from projections.queries.rows import AuditEntry
from schemas.models import LifecycleEvent


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One audit entry, its event, the credential's state after it and what it changed."""

    entry: AuditEntry
    event: LifecycleEvent
    state: CredentialState
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every step of one credential, in the fold's order (sequence, then audit position)."""

    credential_id: str
    steps: Sequence[TimelineStep]

    @property
    def events(self) -> list[LifecycleEvent]:
        return [step.event for step in self.steps]

    def newest_first(self) -> list[TimelineStep]:
        """The steps by audit position, newest first (the order they were recorded)."""
        return sorted(self.steps, key=lambda step: step.entry.position, reverse=True)


def credential_timeline(connection: Connection, credential_id: str) -> Timeline:
    """The timeline of ``credential_id`` (no steps if no event of it was recorded)."""
    statement = (
        select(audit_log)
        .where(audit_log.c.credential_id == credential_id)
        .order_by(audit_log.c.sequence, audit_log.c.position)
    )
    entries = [AuditEntry.from_row(row) for row in connection.execute(statement).mappings()]
    events = [event_from_payload(entry.event_type, entry.payload) for entry in entries]
    steps: list[TimelineStep] = []
    before: CredentialState | None = None
    for entry, (event, transition) in zip(entries, fold_steps(events), strict=True):
        steps.append(TimelineStep(entry, event, transition.state,
                                  changes_between(before, transition.state)))
        before = transition.state
    return Timeline(credential_id, steps)
