"""The pure fold: every rule and every anomaly kind, without a database."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialState, CredentialStatus
from projections.model.fold import fold, fold_all, fold_steps
from schemas.models import DenialReason, EventType, LifecycleEvent
from tests.builders_projection import T0, History


def run(events: list[LifecycleEvent]) -> tuple[CredentialState, list[tuple[Anomaly, ...]]]:
    """Fold events in the given order; the final state and each event's flags."""
    state: CredentialState | None = None
    flags = []
    for event in events:
        state, anomalies = fold(state, event)
        flags.append(anomalies)
    assert state is not None
    return state, flags


# --- rules -------------------------------------------------------------------------------


def test_created_sets_everything_from_the_record() -> None:
    h = History("cred-9", user_id="alice")
    expiry = T0 + timedelta(days=30)
    created = h.created(
        display_name="ci bot",
        scoped_roles=("writer", "reader"),
        allow_source_cidr=("10.0.0.0/8", "2001:db8::/32"),
        expires_time=expiry,
    )
    state, anomalies = fold(None, created)
    assert anomalies == ()
    assert state.credential_id == "cred-9"
    assert state.user_id == "alice"
    assert state.client_id == "client-cred-9"
    assert state.display_name == "ci bot"
    assert state.scoped_roles == ("reader", "writer")
    assert state.allow_source_cidr == ("10.0.0.0/8", "2001:db8::/32")
    assert state.created_at == created.occurred_at
    assert state.updated_at == created.occurred_at
    assert state.expires_time == expiry
    assert state.last_used_at is None
    assert state.deleted_at is None
    assert state.status is CredentialStatus.ACTIVE
    assert state.last_sequence == 1
    assert state.last_event_id == created.event_id
    assert state.last_event_type is EventType.CREATED
    assert state.last_changed_at == created.occurred_at
    assert state.created_event_id == created.event_id
    assert state.seen_source_ips == ()
    assert state.anomaly_count == 0


def test_created_with_missing_fields_leaves_them_empty() -> None:
    h = History()
    created = h.created(
        display_name=None, scoped_roles=None, allow_source_cidr=None, with_created_at=False
    )
    state, anomalies = fold(None, created)
    assert anomalies == ()
    assert state.display_name is None
    assert state.scoped_roles == ()
    assert state.allow_source_cidr == ()
    assert state.created_at is None
    assert state.expires_time is None


def test_created_already_deleted_is_deleted() -> None:
    h = History()
    state, _ = fold(None, h.created(deleted_at=T0))
    assert state.status is CredentialStatus.DELETED
    assert state.deleted_at == T0


def test_roles_scoped_replaces_the_roles() -> None:
    h = History()
    state, flags = run(
        [h.created(scoped_roles=("reader", "admin")), roles := h.roles_scoped("ops")]
    )
    assert state.scoped_roles == ("ops",)
    assert state.updated_at == roles.occurred_at
    assert flags == [(), ()]


def test_updated_changes_only_the_fields_it_sets() -> None:
    h = History()
    expiry = T0 + timedelta(days=1)
    created = h.created(display_name="a", allow_source_cidr=("10.0.0.0/8",), expires_time=expiry)
    rename = h.updated(display_name="b")
    state, _ = run([created, rename])
    assert (state.display_name, state.allow_source_cidr, state.expires_time) == (
        "b",
        ("10.0.0.0/8",),
        expiry,
    )
    later = T0 + timedelta(days=2)
    state, _ = fold(state, h.updated(allow_source_cidr=(), expires_time=later))
    assert (state.display_name, state.allow_source_cidr, state.expires_time) == ("b", (), later)


def test_allowed_use_moves_last_used_at_and_records_the_address() -> None:
    h = History()
    created = h.created()
    use = h.used("192.0.2.7")
    state, flags = run([created, use])
    assert state.last_used_at == use.occurred_at
    assert state.seen_source_ips == ("192.0.2.7",)
    assert state.updated_at == created.occurred_at, "a use is not a change of the credential"
    assert state.last_changed_at == use.occurred_at
    assert state.last_event_type is EventType.USED
    assert flags == [(), ()]


def test_denied_use_records_the_address_but_not_a_use_instant() -> None:
    h = History()
    state, _ = run([h.created(), h.used("192.0.2.7", denied=DenialReason.EXPIRED)])
    assert state.last_used_at is None
    assert state.seen_source_ips == ("192.0.2.7",)


def test_seen_addresses_are_a_sorted_set() -> None:
    h = History()
    state, _ = run(
        [
            h.created(),
            h.used("2001:db8::1"),
            h.used("10.0.0.9"),
            h.used("10.0.0.10"),
            h.used("10.0.0.9"),
        ]
    )
    assert state.seen_source_ips == ("10.0.0.9", "10.0.0.10", "2001:db8::1")


def test_expired_sets_status_and_expiry() -> None:
    h = History()
    instant = T0 + timedelta(minutes=2)
    state, flags = run([h.created(), expired := h.expired(expires_time=instant)])
    assert state.status is CredentialStatus.EXPIRED
    assert state.expires_time == instant
    assert state.updated_at == expired.occurred_at
    assert flags == [(), ()]


def test_deleted_soft_deletes() -> None:
    h = History()
    state, flags = run([h.created(), deleted := h.deleted(reason="rotated")])
    assert state.status is CredentialStatus.DELETED
    assert state.deleted_at == deleted.deleted_at
    assert state.updated_at == deleted.occurred_at
    assert flags == [(), ()]


def test_update_with_a_future_expiry_reactivates_an_expired_credential() -> None:
    h = History()
    state, _ = run([h.created(), h.expired()])
    extend = h.updated(expires_time=h.clock + timedelta(days=90))
    state, flags = fold(state, extend)
    assert state.status is CredentialStatus.ACTIVE
    assert state.expires_time == extend.expires_time
    assert flags == ()


def test_update_with_a_past_expiry_does_not_reactivate() -> None:
    h = History()
    state, _ = run([h.created(), h.expired()])
    state, _ = fold(state, h.updated(expires_time=h.clock - timedelta(seconds=1)))
    assert state.status is CredentialStatus.EXPIRED
    state, _ = fold(state, h.updated(display_name="renamed"))
    assert state.status is CredentialStatus.EXPIRED


def test_update_never_reactivates_a_deleted_credential() -> None:
    h = History()
    state, _ = run([h.created(), h.expired(), h.deleted()])
    state, flags = fold(state, h.updated(expires_time=h.clock + timedelta(days=90)))
    assert state.status is CredentialStatus.DELETED
    assert flags == (Anomaly.CHANGE_ON_DELETED,)


# --- anomalies ---------------------------------------------------------------------------


def test_use_after_deletion() -> None:
    h = History()
    state, flags = run([h.created(), h.used(), h.deleted(), h.used()])
    assert flags[-1] == (Anomaly.USE_AFTER_DELETION,)
    assert flags[1] == ()
    assert state.anomaly_count == 1


def test_denied_use_after_deletion_is_flagged_too() -> None:
    h = History()
    _, flags = run([h.created(), h.deleted(), h.used(denied=DenialReason.DELETED)])
    assert flags[-1] == (Anomaly.USE_AFTER_DELETION,)


def test_use_after_expiry_by_status() -> None:
    h = History()
    _, flags = run([h.created(), h.expired(), h.used()])
    assert flags[-1] == (Anomaly.USE_AFTER_EXPIRY,)


def test_use_after_expiry_by_instant_even_before_the_sweeper_ran() -> None:
    h = History()
    created = h.created(expires_time=T0 + timedelta(minutes=3))
    before = h.used(at=T0 + timedelta(minutes=2, seconds=59))
    at_expiry = h.used(at=T0 + timedelta(minutes=3))
    _, flags = run([created, before, at_expiry])
    assert flags == [(), (), (Anomaly.USE_AFTER_EXPIRY,)]


@pytest.mark.parametrize(
    ("cidrs", "address", "outside"),
    [
        (("10.0.0.0/8",), "10.255.0.1", False),
        (("10.0.0.0/8",), "11.0.0.1", True),
        (("10.0.0.0/8", "192.168.1.0/24"), "192.168.1.200", False),
        (("192.168.1.0/24",), "192.168.2.1", True),
        (("2001:db8::/32",), "2001:db8:ffff::1", False),
        (("2001:db8::/32",), "2001:db9::1", True),
        (("2001:db8::/32",), "10.0.0.1", True),
        (("10.0.0.0/8",), "2001:db8::1", True),
        (("10.0.0.0/8",), "::ffff:10.1.2.3", False),
        (("10.0.0.0/8",), "::ffff:11.1.2.3", True),
        (("203.0.113.7/32",), "203.0.113.7", False),
        ((), "198.51.100.1", False),
        ((), "2001:db8::1", False),
    ],
)
def test_use_outside_allowed_cidrs(cidrs: tuple[str, ...], address: str, outside: bool) -> None:
    h = History()
    _, flags = run([h.created(allow_source_cidr=cidrs), h.used(address)])
    expected = (Anomaly.USE_OUTSIDE_ALLOWED_CIDRS,) if outside else ()
    assert flags[-1] == expected


def test_narrowed_cidrs_apply_to_later_uses() -> None:
    h = History()
    _, flags = run(
        [
            h.created(),
            h.used("10.0.0.1"),
            h.updated(allow_source_cidr=("192.168.0.0/16",)),
            h.used("10.0.0.1"),
        ]
    )
    assert flags[1] == ()
    assert flags[-1] == (Anomaly.USE_OUTSIDE_ALLOWED_CIDRS,)


def test_new_source_ip_is_flagged_except_on_the_first_use() -> None:
    h = History()
    _, flags = run(
        [
            h.created(),
            h.used("10.0.0.1"),
            h.used("10.0.0.1"),
            h.used("10.0.0.2"),
            h.used("10.0.0.2"),
            h.used("2001:db8::5"),
        ]
    )
    assert flags == [(), (), (), (Anomaly.NEW_SOURCE_IP,), (), (Anomaly.NEW_SOURCE_IP,)]


def test_an_address_first_seen_on_a_denied_use_is_not_new_later() -> None:
    h = History()
    _, flags = run(
        [
            h.created(),
            h.used("10.0.0.1"),
            h.used("10.0.0.2", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS),
            h.used("10.0.0.2"),
        ]
    )
    assert flags[2] == (Anomaly.NEW_SOURCE_IP,)
    assert flags[3] == ()


def test_role_change_on_deleted() -> None:
    h = History()
    state, flags = run([h.created(), h.expired(), h.deleted(), h.roles_scoped("admin")])
    assert flags[-1] == (Anomaly.ROLE_CHANGE_ON_DELETED,)
    assert state.scoped_roles == ("admin",), "the reported fact is applied"
    assert state.status is CredentialStatus.DELETED


def test_role_change_on_expired_by_status_and_by_instant() -> None:
    h = History()
    _, flags = run([h.created(), h.expired(), h.roles_scoped("admin")])
    assert flags[-1] == (Anomaly.ROLE_CHANGE_ON_EXPIRED,)
    h = History()
    _, flags = run([h.created(expires_time=T0), h.roles_scoped("admin")])
    assert flags[-1] == (Anomaly.ROLE_CHANGE_ON_EXPIRED,)


def test_change_on_deleted() -> None:
    h = History()
    created = h.created()
    first = h.deleted()
    events = [created, first, h.updated(display_name="x"), h.expired(), h.deleted()]
    state, flags = run(events)
    assert flags[2:] == [(Anomaly.CHANGE_ON_DELETED,)] * 3
    assert state.display_name == "x"
    assert state.status is CredentialStatus.DELETED
    assert state.deleted_at == first.deleted_at, "the first deletion stands"
    assert state.anomaly_count == 3


def test_event_before_creation() -> None:
    h = History()
    created = h.created(sequence=3, scoped_roles=("reader",), display_name="late")
    use = h.used("10.0.0.1", sequence=1)
    roles = h.roles_scoped("admin", sequence=2)
    state, flags = run([use, roles, created])
    assert flags == [(Anomaly.EVENT_BEFORE_CREATION,), (Anomaly.EVENT_BEFORE_CREATION,), ()]
    assert state.client_id == "client-cred-1"
    assert state.display_name == "late"
    assert state.scoped_roles == ("reader",)
    assert state.seen_source_ips == ("10.0.0.1",), "what was seen before creation is kept"
    assert state.last_used_at == use.used_at
    assert state.created_event_id == created.event_id


def test_duplicate_creation_changes_no_fact() -> None:
    h = History()
    state, _ = run([h.created(display_name="first"), h.deleted()])
    state2, flags = fold(state, h.created(display_name="second"))
    assert flags == (Anomaly.DUPLICATE_CREATION,)
    assert state2.display_name == "first"
    assert state2.status is CredentialStatus.DELETED
    assert state2.created_event_id == state.created_event_id
    assert state2.last_sequence == 3


def test_sequence_gap() -> None:
    h = History()
    created = h.created()
    skipped = h.used(sequence=4)
    state, flags = run([created, skipped])
    assert flags == [(), (Anomaly.SEQUENCE_GAP,)]
    assert state.last_sequence == 4
    _, first_flags = fold(None, History().used(sequence=2))
    assert first_flags == (Anomaly.EVENT_BEFORE_CREATION, Anomaly.SEQUENCE_GAP)


def test_late_sequence_changes_no_fact() -> None:
    h = History()
    created = h.created(display_name="a")
    rename = h.updated(display_name="c", sequence=3)
    state, _ = run([created, rename])
    late = h.updated(display_name="b", sequence=2)
    after, flags = fold(state, late)
    assert flags == (Anomaly.SEQUENCE_LATE,)
    assert after == state._replace(anomaly_count=state.anomaly_count + 1)


def test_several_flags_come_in_definition_order() -> None:
    h = History()
    events = [
        h.created(allow_source_cidr=("10.0.0.0/8",)),
        h.used("10.0.0.1"),
        h.expired(),
        h.deleted(),
        h.used("192.0.2.1", sequence=7),
    ]
    _, flags = run(events)
    assert flags[-1] == (
        Anomaly.USE_AFTER_DELETION,
        Anomaly.USE_AFTER_EXPIRY,
        Anomaly.USE_OUTSIDE_ALLOWED_CIDRS,
        Anomaly.NEW_SOURCE_IP,
        Anomaly.SEQUENCE_GAP,
    )


def test_anomaly_count_counts_flagged_events() -> None:
    h = History()
    state, _ = run(
        [h.created(), h.deleted(), h.used("10.0.0.1"), h.used("10.0.0.2"), h.used("10.0.0.2")]
    )
    assert state.anomaly_count == 3


# --- fold_all ----------------------------------------------------------------------------


def _long_history() -> list[LifecycleEvent]:
    h = History()
    return [
        h.created(allow_source_cidr=("10.0.0.0/8", "2001:db8::/32")),
        h.used("10.0.0.1"),
        h.roles_scoped("reader", "writer"),
        h.used("2001:db8::7"),
        h.used("198.51.100.4", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS),
        h.updated(display_name="renamed", expires_time=T0 + timedelta(minutes=9)),
        h.expired(),
        h.updated(expires_time=T0 + timedelta(days=1)),
        h.used("10.0.0.2"),
        h.deleted(),
        h.used("10.0.0.3"),
    ]


def test_fold_all_equals_folding_in_sequence_order() -> None:
    events = _long_history()
    state, _ = run(events)
    assert fold_all(events) == state
    assert fold_all(reversed(events)) == state
    assert state.status is CredentialStatus.DELETED
    assert state.scoped_roles == ("reader", "writer")
    assert state.seen_source_ips == (
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "198.51.100.4",
        "2001:db8::7",
    )


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(range(11)))
def test_fold_all_does_not_depend_on_arrival_order(order: list[int]) -> None:
    events = _long_history()
    assert fold_all([events[index] for index in order]) == fold_all(events)


def test_fold_all_of_nothing_is_nothing() -> None:
    assert fold_all([]) is None


def test_fold_all_keeps_the_first_of_equal_sequences() -> None:
    h = History()
    created = h.created()
    first = h.updated(display_name="first", sequence=2)
    second = h.updated(display_name="second", sequence=2)
    steps = fold_steps([created, first, second])
    assert [flags for _event, (_state, flags) in steps] == [(), (), (Anomaly.SEQUENCE_LATE,)]
    state = fold_all([created, first, second])
    assert state is not None
    assert state.display_name == "first"
    assert state.last_event_id == first.event_id


def test_state_as_of_an_instant_is_fold_all_of_the_events_until_then() -> None:
    events = _long_history()
    cut = events[4].occurred_at
    state = fold_all(event for event in events if event.occurred_at <= cut)
    assert state is not None
    assert state.last_sequence == 5
    assert state.scoped_roles == ("reader", "writer")
    assert state.display_name == "laptop"
    assert state.status is CredentialStatus.ACTIVE


def test_timestamps_stay_utc() -> None:
    state = fold_all(_long_history())
    assert state is not None
    for instant in (state.created_at, state.updated_at, state.last_used_at, state.deleted_at):
        assert instant is not None
        assert instant.tzinfo is UTC
