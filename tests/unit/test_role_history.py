"""Role history intervals on hand-written histories with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.forensics.role_history import RoleInterval, StatusChange, role_intervals
from projections.model.credential import CredentialStatus
from schemas.models import EventType, LifecycleEvent
from tests.builders_projection import History


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 3, hour, minute, tzinfo=UTC)


def history() -> list[LifecycleEvent]:
    """admin from creation at 09:00, removed 10:00, re-added 11:00; the credential expires at
    12:00, its expiry is extended at 13:00, and it is deleted at 15:00."""
    h = History("cred-1", user_id="alice")
    return [
        h.created(scoped_roles=("admin", "reader"), expires_time=at(12), at=at(9)),
        h.roles_scoped("reader", at=at(10)),
        h.used("10.0.0.1", at=at(10, 30)),
        h.roles_scoped("admin", "reader", at=at(11)),
        h.expired(expires_time=at(12), at=at(12)),
        h.updated(expires_time=at(20), at=at(13)),
        h.roles_scoped("admin", "reader", "writer", at=at(14)),
        h.deleted(at=at(15)),
        h.roles_scoped("admin", at=at(16)),
    ]


def test_a_role_removed_and_added_again_gives_two_intervals() -> None:
    first, second = role_intervals(history(), "admin")
    assert (first.held_from, first.granted_by, first.held_until, first.ended_by) == (
        at(9),
        EventType.CREATED,
        at(10),
        EventType.ROLES_SCOPED,
    )
    assert first.status_changes == ()
    assert (second.held_from, second.granted_by) == (at(11), EventType.ROLES_SCOPED)
    assert (second.held_until, second.ended_by) == (at(15), EventType.DELETED)
    assert (first.credential_id, first.user_id, first.client_id) == (
        "cred-1",
        "alice",
        "client-cred-1",
    )


def test_expiry_does_not_end_holding_but_is_listed() -> None:
    second = role_intervals(history(), "admin")[1]
    assert second.status_changes == (
        StatusChange(at(12), CredentialStatus.EXPIRED),
        StatusChange(at(13), CredentialStatus.ACTIVE),
    )


def test_deletion_ends_holding_and_later_role_changes_do_not_restart_it() -> None:
    intervals = role_intervals(history(), "admin")
    assert len(intervals) == 2
    assert all(interval.held_until is not None for interval in intervals)


def test_a_role_held_through_every_change_is_one_interval() -> None:
    (reader,) = role_intervals(history(), "reader")
    assert (reader.held_from, reader.held_until, reader.ended_by) == (
        at(9),
        at(15),
        EventType.DELETED,
    )
    (writer,) = role_intervals(history(), "writer")
    assert (writer.held_from, writer.held_until) == (at(14), at(15))


def test_a_role_still_held_has_an_open_interval() -> None:
    h = History("cred-2")
    (interval,) = role_intervals([h.created(scoped_roles=("admin",), at=at(9))], "admin")
    assert interval.held_until is None
    assert interval.ended_by is None


def test_a_role_never_held() -> None:
    assert role_intervals(history(), "billing") == []


def test_a_role_scoped_onto_an_expired_credential_starts_expired() -> None:
    h = History("cred-3")
    events = [
        h.created(scoped_roles=(), expires_time=at(10), at=at(9)),
        h.expired(expires_time=at(10), at=at(10)),
        h.roles_scoped("admin", at=at(11)),
    ]
    (interval,) = role_intervals(events, "admin")
    assert interval.status_changes == (StatusChange(at(11), CredentialStatus.EXPIRED),)


def test_events_in_any_order_follow_the_sequence() -> None:
    events = history()
    assert role_intervals(list(reversed(events)), "admin") == role_intervals(events, "admin")


def interval(held_from: datetime, held_until: datetime | None) -> RoleInterval:
    return RoleInterval("c", "u", "cl", "admin", held_from, EventType.CREATED, held_until)


def test_overlap_with_a_half_open_window() -> None:
    closed = interval(at(10), at(12))
    assert closed.overlaps(None, None)
    assert closed.overlaps(at(11), at(11, 30))
    assert closed.overlaps(at(9), at(10, 1))
    assert not closed.overlaps(at(12), at(13)), "held until 12:00, not at it"
    assert not closed.overlaps(at(8), at(10)), "the window ends before holding starts"
    assert closed.overlaps(at(11, 59), None)
    still = interval(at(10), None)
    assert still.overlaps(at(23), None)
    assert not still.overlaps(None, at(10))
