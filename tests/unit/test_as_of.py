"""State as of an instant, on a hand-written history with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.forensics.as_of import StateAsOf, state_as_of
from projections.model.credential import CredentialStatus
from schemas.models import LifecycleEvent
from tests.builders_projection import History


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 3, hour, minute, second, tzinfo=UTC)


def history() -> list[LifecycleEvent]:
    """Created 10:01 (expiring 11:30), admin added 10:05, renamed 10:10, used 10:20, the
    expiry recorded 12:00, used 12:30, expiry extended 13:00, deleted 14:00, used 14:30."""
    h = History("cred-1", user_id="alice")
    return [
        h.created(
            display_name="laptop",
            scoped_roles=("reader",),
            allow_source_cidr=("10.0.0.0/8",),
            expires_time=at(11, 30),
            at=at(10, 1),
        ),
        h.roles_scoped("reader", "admin", at=at(10, 5)),
        h.updated(display_name="renamed", allow_source_cidr=("10.1.0.0/16",), at=at(10, 10)),
        h.used("10.1.0.7", at=at(10, 20)),
        h.expired(expires_time=at(11, 30), at=at(12)),
        h.used("10.1.0.7", at=at(12, 30)),
        h.updated(expires_time=at(18), at=at(13)),
        h.deleted(reason="leaked", at=at(14)),
        h.used("10.1.0.7", at=at(14, 30)),
    ]


def test_before_creation_there_is_nothing() -> None:
    assert state_as_of(history(), at(10)) is None
    assert state_as_of(history(), at(10, 0, 59)) is None


def test_an_event_at_exactly_the_instant_is_included() -> None:
    state = state_as_of(history(), at(10, 1))
    assert state is not None
    assert (state.display_name, state.scoped_roles, state.last_sequence) == (
        "laptop",
        ("reader",),
        1,
    )
    renamed = state_as_of(history(), at(10, 10))
    assert renamed is not None
    assert renamed.display_name == "renamed"
    assert renamed.allow_source_cidr == ("10.1.0.0/16",)


def test_between_changes() -> None:
    state = state_as_of(history(), at(10, 7))
    assert state is not None
    assert state.scoped_roles == ("admin", "reader")
    assert state.display_name == "laptop"
    assert state.allow_source_cidr == ("10.0.0.0/8",)
    assert state.last_sequence == 2
    assert state.last_used_at is None
    assert state.status is CredentialStatus.ACTIVE


def test_past_the_expiry_instant_before_the_expired_event() -> None:
    state = state_as_of(history(), at(11, 45))
    assert state is not None
    assert state.status is CredentialStatus.ACTIVE, "no expired event yet"
    assert StateAsOf(at(11, 45), state).effective_status is CredentialStatus.EXPIRED
    assert StateAsOf(at(11, 29), state).effective_status is CredentialStatus.ACTIVE
    assert state.last_used_at == at(10, 20)


def test_after_expiry() -> None:
    state = state_as_of(history(), at(12, 45))
    assert state is not None
    assert state.status is CredentialStatus.EXPIRED
    assert state.expires_time == at(11, 30)
    assert state.last_used_at == at(12, 30)
    assert state.anomaly_count == 1, "the use after expiry"


def test_an_extended_expiry_reactivates() -> None:
    state = state_as_of(history(), at(13))
    assert state is not None
    assert state.status is CredentialStatus.ACTIVE
    assert state.expires_time == at(18)
    assert StateAsOf(at(13), state).effective_status is CredentialStatus.ACTIVE


@pytest.mark.parametrize("instant", [at(14), at(14, 10), at(23)])
def test_after_deletion(instant: datetime) -> None:
    state = state_as_of(history(), instant)
    assert state is not None
    assert state.status is CredentialStatus.DELETED
    assert state.deleted_at == at(14)
    assert StateAsOf(instant, state).effective_status is CredentialStatus.DELETED
    assert state.scoped_roles == ("admin", "reader"), "deletion keeps the last roles"


def test_the_last_instant_gives_the_live_state() -> None:
    events = history()
    latest = state_as_of(events, at(23))
    assert latest is not None
    assert latest.last_sequence == 9
    assert latest.last_event_id == events[-1].event_id


def test_order_of_the_given_events_does_not_matter() -> None:
    events = history()
    assert state_as_of(list(reversed(events)), at(12, 45)) == state_as_of(events, at(12, 45))
