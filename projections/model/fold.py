"""The pure fold of lifecycle events into a credential's state, with the anomalies it finds.

One function serves the live projection, a full replay, and state as of any instant:
``fold`` applies one event, ``fold_all`` folds a credential's events in sequence order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import singledispatch
from typing import NamedTuple

from projections.model.addresses import is_allowed, with_address
from projections.model.anomalies import Anomaly, in_order
from projections.model.credential import CredentialState, CredentialStatus, blank_state
from schemas.models import (
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    LifecycleEvent,
    UseOutcome,
)


class Transition(NamedTuple):
    """The state after one event, and what was surprising about that event."""

    state: CredentialState
    anomalies: tuple[Anomaly, ...]


class _Effect(NamedTuple):
    state: CredentialState
    anomalies: frozenset[Anomaly]


_NOTHING: frozenset[Anomaly] = frozenset()


def fold(state: CredentialState | None, event: LifecycleEvent) -> Transition:
    """Apply one event to a credential's state (None: nothing known of it yet).

    An event whose sequence is at or before the last applied one is flagged SEQUENCE_LATE
    and leaves the facts unchanged: an older fact cannot be laid over newer ones without the
    history, so whoever holds the history refolds it with :func:`fold_all`. Every other event
    is applied, however surprising, and what is surprising is returned as anomalies.
    """
    if state is not None and event.sequence <= state.last_sequence:
        late = state._replace(anomaly_count=state.anomaly_count + 1)
        return Transition(late, (Anomaly.SEQUENCE_LATE,))
    current = state if state is not None else _unknown(event)
    effect = _effect(event, current)
    flags = set(effect.anomalies)
    if event.sequence > current.last_sequence + 1:
        flags.add(Anomaly.SEQUENCE_GAP)
    if current.created_event_id is None and not isinstance(event, CredentialCreated):
        flags.add(Anomaly.EVENT_BEFORE_CREATION)
    changed = effect.state
    after = changed._replace(
        updated_at=changed.updated_at if isinstance(event, CredentialUsed) else event.occurred_at,
        last_sequence=event.sequence,
        last_event_id=event.event_id,
        last_event_type=event.event_type,
        last_changed_at=event.occurred_at,
        anomaly_count=current.anomaly_count + (1 if flags else 0),
    )
    return Transition(after, in_order(flags))


def fold_steps(events: Iterable[LifecycleEvent]) -> list[tuple[LifecycleEvent, Transition]]:
    """Fold one credential's events in sequence order, keeping every step.

    Events with equal sequences keep their given order: the first is applied, the others
    are flagged SEQUENCE_LATE and change nothing. (The store passes audit-log order, so the
    first event recorded at a sequence is the one that counts.)
    """
    steps: list[tuple[LifecycleEvent, Transition]] = []
    state: CredentialState | None = None
    for event in sorted(events, key=lambda event: event.sequence):
        transition = fold(state, event)
        steps.append((event, transition))
        state = transition.state
    return steps


def fold_all(events: Iterable[LifecycleEvent]) -> CredentialState | None:
    """One credential's state after all ``events`` (in any order), None if there are none."""
    steps = fold_steps(events)
    return steps[-1][1].state if steps else None


def _unknown(event: LifecycleEvent) -> CredentialState:
    """What the envelope alone says of a credential nothing is known of yet."""
    envelope = event.envelope
    return blank_state(
        envelope.credential_id,
        envelope.client_id,
        envelope.user_id,
        envelope.event_id,
        envelope.event_type,
        envelope.occurred_at,
    )


def _latest(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return first if second is None else second
    return max(first, second)


@singledispatch
def _effect(event: LifecycleEvent, state: CredentialState) -> _Effect:
    raise TypeError(f"no fold rule for {type(event).__name__}")


@_effect.register
def _created(event: CredentialCreated, state: CredentialState) -> _Effect:
    """The record's fields, present ones over anything known from earlier events.

    A second creation changes no fact: a credential is created once, and the first
    creation stands.
    """
    if state.created_event_id is not None:
        return _Effect(state, frozenset({Anomaly.DUPLICATE_CREATION}))
    record = event.credential
    deleted_at = record.deleted_at or state.deleted_at
    created = state._replace(
        display_name=state.display_name if record.display_name is None else record.display_name,
        scoped_roles=state.scoped_roles if record.scoped_roles is None else record.scoped_roles,
        allow_source_cidr=(
            state.allow_source_cidr
            if record.allow_source_cidr is None
            else record.allow_source_cidr
        ),
        created_at=record.created_at or state.created_at,
        last_used_at=_latest(record.last_used_at, state.last_used_at),
        expires_time=record.expires_time or state.expires_time,
        deleted_at=deleted_at,
        status=CredentialStatus.DELETED if deleted_at is not None else state.status,
        created_event_id=event.event_id,
    )
    return _Effect(created, _NOTHING)


@_effect.register
def _roles_scoped(event: CredentialRolesScoped, state: CredentialState) -> _Effect:
    flags = _NOTHING
    if state.is_deleted:
        flags = frozenset({Anomaly.ROLE_CHANGE_ON_DELETED})
    elif state.is_expired_at(event.occurred_at):
        flags = frozenset({Anomaly.ROLE_CHANGE_ON_EXPIRED})
    return _Effect(state._replace(scoped_roles=event.scoped_roles), flags)


@_effect.register
def _updated(event: CredentialUpdated, state: CredentialState) -> _Effect:
    """The fields the update sets; a new expiry after the update reactivates an expired one.

    Moving the expiry into the past does not expire an active credential (that is what the
    expired event says), but later uses are judged against the new expiry.
    """
    status = state.status
    if (
        status is CredentialStatus.EXPIRED
        and event.expires_time is not None
        and event.expires_time > event.occurred_at
    ):
        status = CredentialStatus.ACTIVE
    updated = state._replace(
        display_name=state.display_name if event.display_name is None else event.display_name,
        allow_source_cidr=(
            state.allow_source_cidr if event.allow_source_cidr is None else event.allow_source_cidr
        ),
        expires_time=event.expires_time or state.expires_time,
        status=status,
    )
    return _Effect(updated, _on_deleted(state))


@_effect.register
def _used(event: CredentialUsed, state: CredentialState) -> _Effect:
    """Uses are checked against deletion, expiry, allowed CIDRs and earlier source addresses.

    Denied uses are checked too (the outcome column tells blocked attempts apart), and
    their addresses count as seen; only allowed uses move ``last_used_at``.
    """
    flags: set[Anomaly] = set()
    if state.is_deleted:
        flags.add(Anomaly.USE_AFTER_DELETION)
    if state.is_expired_at(event.used_at):
        flags.add(Anomaly.USE_AFTER_EXPIRY)
    if not is_allowed(event.source_ip, state.allow_source_cidr):
        flags.add(Anomaly.USE_OUTSIDE_ALLOWED_CIDRS)
    if state.seen_source_ips and event.source_ip not in state.seen_source_ips:
        flags.add(Anomaly.NEW_SOURCE_IP)
    allowed = event.outcome is UseOutcome.ALLOWED
    used = state._replace(
        last_used_at=_latest(state.last_used_at, event.used_at) if allowed else state.last_used_at,
        seen_source_ips=with_address(state.seen_source_ips, event.source_ip),
    )
    return _Effect(used, frozenset(flags))


@_effect.register
def _expired(event: CredentialExpired, state: CredentialState) -> _Effect:
    """Expires the credential at the given instant; a deleted one stays deleted."""
    status = state.status if state.is_deleted else CredentialStatus.EXPIRED
    expired = state._replace(expires_time=event.expires_time, status=status)
    return _Effect(expired, _on_deleted(state))


@_effect.register
def _deleted(event: CredentialDeleted, state: CredentialState) -> _Effect:
    """Soft-deletes the credential; after a repeated deletion the first instant stands."""
    if state.is_deleted:
        return _Effect(state, _on_deleted(state))
    deleted = state._replace(deleted_at=event.deleted_at, status=CredentialStatus.DELETED)
    return _Effect(deleted, _NOTHING)


def _on_deleted(state: CredentialState) -> frozenset[Anomaly]:
    return frozenset({Anomaly.CHANGE_ON_DELETED}) if state.is_deleted else _NOTHING
