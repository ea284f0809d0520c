"""Credentials as they were at an instant, refolded from the audit log.

A credential's state at instant T is :func:`projections.model.fold.fold_all` over its recorded
events that occurred at or before T (an event at exactly T is included), in sequence order.
A credential with no such event did not exist yet and is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from projections.db.history import histories
from projections.forensics.candidates import credentials_mentioning_role, credentials_with_events
from projections.model.credential import CredentialState, CredentialStatus
from projections.model.fold import fold_all
from schemas.models import LifecycleEvent


@dataclass(frozen=True, slots=True)
class StateAsOf:
    """One credential's folded state at ``instant``, and its status in effect then.

    ``effective_status`` is ``deleted`` when deleted, else ``expired`` when expired by an
    expiry event or by an expiry instant at or before ``instant``, else ``active``; the
    folded ``state.status`` only follows the events.
    """

    instant: datetime
    state: CredentialState

    @property
    def effective_status(self) -> CredentialStatus:
        if self.state.is_deleted:
            return CredentialStatus.DELETED
        if self.state.is_expired_at(self.instant):
            return CredentialStatus.EXPIRED
        return CredentialStatus.ACTIVE


def state_as_of(events: Iterable[LifecycleEvent], instant: datetime) -> CredentialState | None:
    """One credential's state after its events that occurred at or before ``instant``."""
    return fold_all(event for event in events if event.occurred_at <= instant)


def states_as_of(
    connection: Connection,
    instant: datetime,
    *,
    credential_id: str | None = None,
    user_id: str | None = None,
    role: str | None = None,
) -> Iterator[StateAsOf]:
    """Every credential matching all the given filters as it was at ``instant``, by id.

    ``role`` keeps credentials that held it at ``instant``: in their scoped roles and not
    deleted (as in :mod:`projections.forensics.role_history`; an expired credential still holds it).
    """
    if credential_id is not None:
        candidates = [credential_id]
    elif role is not None:
        candidates = credentials_mentioning_role(connection, role, instant)
    else:
        candidates = credentials_with_events(connection, instant, user_id)
    for _credential_id, events in histories(connection, candidates, instant):
        state = fold_all(events)
        if state is None:
            continue
        if user_id is not None and state.user_id != user_id:
            continue
        if role is not None and (role not in state.scoped_roles or state.is_deleted):
            continue
        yield StateAsOf(instant, state)
