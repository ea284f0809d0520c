"""The projection store on real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa

from projections.chain.hashing import GENESIS_HASH
from projections.chain.verify import verify_chains
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.rows import event_from_payload, state_from_row
from projections.db.sqltypes import NaiveDatetimeError
from projections.db.tables import audit_log, consumer_positions, credentials
from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialState, CredentialStatus
from projections.model.fold import fold_all
from projections.model.positioned import PositionedEvent
from projections.write import writes
from projections.write.store import InvalidBatchError, ProjectionStore
from schemas.models import DenialReason, LifecycleEvent
from tests.builders_projection import TOPIC, History, Partition

pytestmark = pytest.mark.integration

PROJECTED_AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> ProjectionStore:
    return ProjectionStore(engine, clock=lambda: PROJECTED_AT)


def audit_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit_log).order_by(audit_log.c.position)))


def stored_states(engine: sa.Engine) -> dict[str, CredentialState]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(credentials))
        return {row.credential_id: state_from_row(row._mapping) for row in rows}


def flags(rows: list[Any]) -> list[list[str]]:
    return [row.anomalies for row in rows]


def apply(store: ProjectionStore, partition: Partition, events: list[LifecycleEvent]) -> Any:
    return store.apply(partition.place(events), partition.offsets())


def test_apply_records_every_event_and_folds_the_state(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History("cred-1", user_id="alice")
    events: list[LifecycleEvent] = [
        h.created(allow_source_cidr=("10.0.0.0/8", "2001:db8::/32"), scoped_roles=("reader",)),
        h.used("10.0.0.1"),
        h.roles_scoped("reader", "admin"),
        h.used("2001:db8::9"),
        h.used("192.0.2.1", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS),
        h.expired(),
        h.used("10.0.0.1"),
        h.deleted(reason="leaked"),
        h.used("10.0.0.1"),
    ]
    partition = Partition(3, start=100)
    result = apply(store, partition, events)

    assert result.applied == 9
    assert result.duplicates == 0
    assert result.anomalies == {
        Anomaly.NEW_SOURCE_IP: 2,
        Anomaly.USE_OUTSIDE_ALLOWED_CIDRS: 1,
        Anomaly.USE_AFTER_EXPIRY: 2,
        Anomaly.USE_AFTER_DELETION: 1,
    }
    rows = audit_rows(engine)
    assert [row.event_id for row in rows] == [str(event.event_id) for event in events]
    assert [row.sequence for row in rows] == list(range(1, 10))
    assert [row.kafka_offset for row in rows] == list(range(100, 109))
    assert {(row.kafka_topic, row.kafka_partition) for row in rows} == {(TOPIC, 3)}
    assert flags(rows) == [
        [],
        [],
        [],
        ["NEW_SOURCE_IP"],
        ["USE_OUTSIDE_ALLOWED_CIDRS", "NEW_SOURCE_IP"],
        [],
        ["USE_AFTER_EXPIRY"],
        [],
        ["USE_AFTER_DELETION", "USE_AFTER_EXPIRY"],
    ]
    assert [row.is_anomaly for row in rows] == [bool(row.anomalies) for row in rows]
    denied = rows[4]
    assert (denied.source_ip, denied.outcome, denied.denial_reason) == (
        "192.0.2.1",
        "DENIED",
        "OUTSIDE_ALLOWED_CIDRS",
    )
    assert (rows[0].source_ip, rows[0].outcome, rows[0].denial_reason) == (None, None, None)
    assert rows[0].actor_kind == "USER"
    assert rows[0].actor_id == "alice"
    assert rows[0].user_id == "alice"
    assert rows[0].correlation_id == events[0].envelope.correlation_id
    assert all(row.projected_at == PROJECTED_AT for row in rows)

    state = stored_states(engine)["cred-1"]
    assert state == fold_all(events)
    assert state.status is CredentialStatus.DELETED
    assert state.scoped_roles == ("admin", "reader")
    assert state.seen_source_ips == ("10.0.0.1", "192.0.2.1", "2001:db8::9")
    assert state.anomaly_count == 4
    assert store.state_of("cred-1") == state
    assert store.state_of("nobody") is None
    assert store.positions(TOPIC) == {3: 109}
    assert store.positions("another-topic") == {}


def test_payload_turns_back_into_the_event(store: ProjectionStore, engine: sa.Engine) -> None:
    h = History()
    events: list[LifecycleEvent] = [
        h.created(expires_time=datetime(2027, 1, 1, tzinfo=UTC)),
        h.roles_scoped("a", "b"),
        h.updated(display_name="x", allow_source_cidr=("2001:db8::/48",)),
        h.used("::ffff:10.0.0.1", denied=DenialReason.EXPIRED),
        h.expired(),
        h.deleted(reason=None),
    ]
    apply(store, Partition(), events)
    rebuilt = [event_from_payload(row.event_type, row.payload) for row in audit_rows(engine)]
    assert rebuilt == events


def test_reapplying_the_same_batch_changes_nothing(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History()
    partition = Partition()
    batch = partition.place([h.created(), h.used("10.0.0.1"), h.used("10.0.0.2")])
    first = store.apply(batch, partition.offsets())
    rows_before, states_before = audit_rows(engine), stored_states(engine)

    again = store.apply(batch, partition.offsets())

    assert (first.applied, first.duplicates) == (3, 0)
    assert (again.applied, again.duplicates) == (0, 3)
    assert again.anomalies == {}
    assert audit_rows(engine) == rows_before
    assert stored_states(engine) == states_before
    assert store.positions(TOPIC) == {0: 3}


def test_event_delivered_twice_in_one_batch_is_recorded_once(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History()
    created, used = h.created(), h.used("10.0.0.1")
    partition = Partition()
    batch = partition.place([created, used, used])
    result = store.apply(batch, partition.offsets())
    assert (result.applied, result.duplicates) == (2, 1)
    rows = audit_rows(engine)
    assert [row.kafka_offset for row in rows] == [0, 1], "the first delivery is the one recorded"
    assert stored_states(engine)["cred-1"].last_sequence == 2
    assert store.positions(TOPIC) == {0: 3}


def test_late_event_is_recorded_and_the_state_refolded(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History()
    created = h.created(display_name="a", allow_source_cidr=("10.0.0.0/8",))
    use = h.used("10.0.0.1", sequence=2)
    narrowed = h.updated(allow_source_cidr=("10.1.0.0/16",), sequence=3)
    renamed = h.updated(display_name="c", sequence=5)
    deleted = h.deleted(sequence=6)
    late_use = h.used("10.9.9.9", sequence=4)
    partition = Partition()
    apply(store, partition, [created, use, narrowed, renamed, deleted])
    assert flags(audit_rows(engine))[3] == ["SEQUENCE_GAP"]

    result = apply(store, partition, [late_use])

    assert result.anomalies == {
        Anomaly.SEQUENCE_LATE: 1,
        Anomaly.USE_OUTSIDE_ALLOWED_CIDRS: 1,
        Anomaly.NEW_SOURCE_IP: 1,
    }
    late_row = audit_rows(engine)[-1]
    assert late_row.event_id == str(late_use.event_id)
    assert late_row.anomalies == ["USE_OUTSIDE_ALLOWED_CIDRS", "NEW_SOURCE_IP", "SEQUENCE_LATE"]
    state = stored_states(engine)["cred-1"]
    assert state.display_name == "c", "the newer fact is not overwritten"
    assert state.status is CredentialStatus.DELETED
    assert state.last_sequence == 6
    assert state.last_event_id == deleted.event_id
    assert state.last_used_at == late_use.used_at, "the older fact is not lost"
    assert state.seen_source_ips == ("10.0.0.1", "10.9.9.9")
    assert state.anomaly_count == 2
    in_order = fold_all([created, use, narrowed, late_use, renamed, deleted])
    assert in_order is not None
    assert state == in_order._replace(anomaly_count=2)


def test_late_event_within_one_batch(store: ProjectionStore, engine: sa.Engine) -> None:
    h = History()
    events: list[LifecycleEvent] = [
        h.created(sequence=1),
        h.updated(display_name="third", sequence=3),
        h.updated(display_name="second", expires_time=datetime(2027, 1, 1, tzinfo=UTC), sequence=2),
    ]
    result = apply(store, Partition(), events)
    assert result.anomalies == {Anomaly.SEQUENCE_GAP: 1, Anomaly.SEQUENCE_LATE: 1}
    state = stored_states(engine)["cred-1"]
    assert state.display_name == "third"
    assert state.expires_time == datetime(2027, 1, 1, tzinfo=UTC)
    assert state.last_sequence == 3


def test_creation_arriving_after_other_events(store: ProjectionStore, engine: sa.Engine) -> None:
    h = History()
    created = h.created(display_name="named", sequence=1)
    use = h.used("10.0.0.1", sequence=2)
    partition = Partition()
    apply(store, partition, [use])
    assert stored_states(engine)["cred-1"].created_event_id is None
    apply(store, partition, [created])
    assert flags(audit_rows(engine)) == [
        ["EVENT_BEFORE_CREATION", "SEQUENCE_GAP"],
        ["SEQUENCE_LATE"],
    ]
    state = stored_states(engine)["cred-1"]
    assert state.created_event_id == created.event_id
    assert state.display_name == "named"
    assert state.seen_source_ips == ("10.0.0.1",)


def test_other_event_at_a_taken_sequence_is_a_duplicate(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History()
    partition = Partition()
    created = h.created()
    renamed = h.updated(display_name="real", sequence=2)
    apply(store, partition, [created, renamed, h.used("10.0.0.1", sequence=3)])
    before = stored_states(engine)["cred-1"]

    impostor = h.updated(display_name="impostor", sequence=2)
    result = apply(store, partition, [impostor])

    assert result.applied == 1
    assert result.anomalies == {Anomaly.SEQUENCE_DUPLICATE: 1}
    rows = audit_rows(engine)
    assert len(rows) == 4
    assert rows[-1].event_id == str(impostor.event_id)
    assert rows[-1].anomalies == ["SEQUENCE_DUPLICATE"]
    assert rows[-1].is_anomaly is True
    after = stored_states(engine)["cred-1"]
    assert after.display_name == "real"
    assert after.last_sequence == before.last_sequence
    assert after.anomaly_count == before.anomaly_count + 1


def test_interleaved_credentials_match_fold_all(store: ProjectionStore, engine: sa.Engine) -> None:
    histories = [History(f"cred-{index}", user_id=f"user-{index % 2}") for index in range(4)]
    per_credential: dict[str, list[LifecycleEvent]] = {h.credential_id: [] for h in histories}
    batch: list[LifecycleEvent] = []
    for round_ in range(6):
        for h in histories:
            event: LifecycleEvent = h.created() if round_ == 0 else h.used(f"10.0.{round_}.1")
            per_credential[h.credential_id].append(event)
            batch.append(event)
    partitions = [Partition(0), Partition(1)]
    placed: list[PositionedEvent] = []
    for index, event in enumerate(batch):
        placed.extend(partitions[index % 2].place([event]))
    result = store.apply(placed, {**partitions[0].offsets(), **partitions[1].offsets()})
    assert result.applied == 24
    states = stored_states(engine)
    assert states == {key: fold_all(events) for key, events in per_credential.items()}
    assert store.positions(TOPIC) == {0: 12, 1: 12}


def test_timestamps_come_back_timezone_aware_utc(store: ProjectionStore, engine: sa.Engine) -> None:
    plus_two = timezone(timedelta(hours=2))
    h = History(start=datetime(2026, 3, 3, 12, 0, tzinfo=plus_two))
    created = h.created(expires_time=datetime(2026, 12, 31, 23, 0, tzinfo=plus_two))
    apply(store, Partition(), [created, h.used("10.0.0.1"), h.deleted()])
    row = audit_rows(engine)[0]
    for instant in (row.occurred_at, row.recorded_at, row.projected_at):
        assert instant.tzinfo is UTC
    assert row.occurred_at == datetime(2026, 3, 3, 10, 1, tzinfo=UTC)
    state = stored_states(engine)["cred-1"]
    for value in (
        state.created_at,
        state.updated_at,
        state.last_used_at,
        state.expires_time,
        state.deleted_at,
        state.last_changed_at,
    ):
        assert value is not None
        assert value.tzinfo is UTC
    assert state.expires_time == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    with engine.connect() as connection:
        position = connection.execute(sa.select(consumer_positions)).one()
        assert position.updated_at == PROJECTED_AT
        assert position.updated_at.tzinfo is UTC
        # instants compare as instants whatever offset the bound value has
        since = datetime(2026, 3, 3, 12, 1, 30, tzinfo=plus_two)
        later = connection.execute(
            sa.select(sa.func.count()).where(audit_log.c.occurred_at > since)
        ).scalar_one()
        assert later == 2


def test_naive_datetimes_are_refused(engine: sa.Engine) -> None:
    with (
        engine.begin() as connection,
        pytest.raises(sa.exc.StatementError) as raised,
    ):
        connection.execute(
            consumer_positions.insert().values(
                topic="t", partition=0, next_offset=1, updated_at=datetime(2026, 3, 3, 10, 0)
            )
        )
    assert isinstance(raised.value.orig, NaiveDatetimeError)


def test_failed_batch_leaves_no_partial_rows_and_no_position(
    store: ProjectionStore, engine: sa.Engine
) -> None:
    h = History()
    partition = Partition()
    apply(store, partition, [h.created(), h.used("10.0.0.1")])
    rows_before, states_before = audit_rows(engine), stored_states(engine)

    fresh = h.used("10.0.0.2")
    clashing = h.used("10.0.0.3")
    batch = [
        PositionedEvent(fresh, TOPIC, 0, 2),
        PositionedEvent(clashing, TOPIC, 0, 1),  # an offset already recorded: unique violation
    ]
    with pytest.raises(sa.exc.IntegrityError):
        store.apply(batch, {(TOPIC, 0): 3})

    assert audit_rows(engine) == rows_before
    assert stored_states(engine) == states_before
    assert store.positions(TOPIC) == {0: 2}


def test_failure_after_all_rows_were_written_rolls_them_back(
    store: ProjectionStore, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = History()
    partition = Partition()
    apply(store, partition, [h.created()])
    batch = partition.place([h.used("10.0.0.1"), h.roles_scoped("admin")])

    def broken(*_args: object) -> None:
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(writes, "upsert_positions", broken)
    with pytest.raises(RuntimeError, match="lost the connection"):
        store.apply(batch, partition.offsets())
    assert len(audit_rows(engine)) == 1
    assert stored_states(engine)["cred-1"].last_sequence == 1
    assert store.positions(TOPIC) == {0: 1}

    monkeypatch.undo()
    retried = store.apply(batch, partition.offsets())
    assert retried.applied == 2
    assert len(audit_rows(engine)) == 3
    assert stored_states(engine)["cred-1"].scoped_roles == ("admin",)
    assert store.positions(TOPIC) == {0: 3}


def test_positions_are_per_partition_and_never_move_backwards(store: ProjectionStore) -> None:
    store.apply([], {(TOPIC, 0): 10, (TOPIC, 1): 4, ("other", 0): 7})
    store.apply([], {(TOPIC, 0): 8, (TOPIC, 1): 5})
    assert store.positions(TOPIC) == {0: 10, 1: 5}
    assert store.positions("other") == {0: 7}


def test_dead_lettered_messages_advance_the_position(store: ProjectionStore) -> None:
    h = History()
    batch = [PositionedEvent(h.created(), TOPIC, 0, 5)]
    store.apply(batch, {(TOPIC, 0): 9})  # offsets 6..8 went to the dead-letter topic
    assert store.positions(TOPIC) == {0: 9}


@pytest.mark.parametrize("next_offset", [None, 0, 1])
def test_offsets_must_cover_the_batch(
    store: ProjectionStore, engine: sa.Engine, next_offset: int | None
) -> None:
    h = History()
    batch = [PositionedEvent(h.created(), TOPIC, 0, 1)]
    offsets = {} if next_offset is None else {(TOPIC, 0): next_offset}
    with pytest.raises(InvalidBatchError):
        store.apply(batch, offsets)
    assert audit_rows(engine) == []
    assert store.positions(TOPIC) == {}


def _chain_links(engine: sa.Engine) -> dict[int, list[tuple[int, str, str]]]:
    """Per partition, (offset, previous_hash, chain_hash) of each row in offset order."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                audit_log.c.kafka_partition,
                audit_log.c.kafka_offset,
                audit_log.c.previous_hash,
                audit_log.c.chain_hash,
            ).order_by(audit_log.c.kafka_partition, audit_log.c.kafka_offset)
        )
        links: dict[int, list[tuple[int, str, str]]] = {}
        for partition, offset, previous, current in rows:
            links.setdefault(partition, []).append((offset, previous, current))
        return links


@pytest.mark.parametrize("order", ["interleaved", "offsets-reversed"])
def test_each_partition_is_chained_in_offset_order_whatever_the_batch_order(
    store: ProjectionStore, engine: sa.Engine, order: str
) -> None:
    first, second = Partition(1, start=40), Partition(4, start=7)
    one, two = History("cred-a"), History("cred-b")
    placed_one = first.place([one.created(), one.used("10.0.0.1"), one.deleted()])
    placed_two = second.place([two.created(), two.roles_scoped("admin")])
    batch = [placed_one[0], placed_two[0], placed_one[1], placed_two[1], placed_one[2]]
    if order == "offsets-reversed":
        batch = [*reversed(placed_one), *reversed(placed_two)]
    store.apply(batch, {**first.offsets(), **second.offsets()})

    links = _chain_links(engine)
    assert [offset for offset, _, _ in links[1]] == [40, 41, 42]
    assert [offset for offset, _, _ in links[4]] == [7, 8]
    for chain in links.values():
        assert chain[0][1] == GENESIS_HASH
        for (_, _, earlier), (_, later_previous, _) in pairwise(chain):
            assert later_previous == earlier
    with engine.connect() as connection:
        verdicts = verify_chains(connection)
    assert [(v.partition, v.rows, v.last_offset, v.first_break) for v in verdicts] == [
        (1, 3, 42, None),
        (4, 2, 8, None),
    ]
    assert {v.partition: v.last_hash for v in verdicts} == {
        partition: chain[-1][2] for partition, chain in links.items()
    }
