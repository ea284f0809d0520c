"""The query functions on a hand-written history, as the projector writes it.

The history is written once per module into a fresh SQLite file and a fresh PostgreSQL
schema with ``ProjectionStore.apply``, placed as a one-partition topic holds it (so audit
positions follow publication order): no Kafka is needed (``tests.seeding``). One test
publishes the same history to a real one-partition topic, projects it with the real
projector and checks that it gives exactly those rows. Entries are named by (credential,
sequence), e.g. ``A4``.

The helpers here (history, fixtures, expected answers) are shared by the CLI and API tests.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.dead_letter import DeadLetterWriter
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from producer.publisher import EventPublisher
from producer.topics import TopicLayout, ensure_topics
from projections.db.backends import POSTGRESQL
from projections.db.backends.sqlite import text_prefix_condition
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log
from projections.model.addresses import network_contains
from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialStatus
from projections.model.positioned import PositionedEvent
from projections.queries import (
    AnomalyFilter,
    AuditCursor,
    AuditEntry,
    AuditPageRequest,
    CredentialFilter,
    CredentialPageRequest,
    CredentialRecord,
    Page,
    TrailFilter,
    UsesFilter,
    anomalies,
    audit_trail,
    credential_state,
    list_credentials,
    uses,
    walk,
)
from projections.queries.cursors import decode_audit_cursor
from projections.write.store import ProjectionStore
from schemas.addresses import address_text
from schemas.models import LifecycleEvent
from tests.builders import (
    T0,
    build_created,
    build_deleted,
    build_expired,
    build_roles_scoped,
    build_updated,
    build_used,
    history,
)
from tests.seeding import DATABASE_KINDS, contents, seed, topic_name
from tests.services import fresh_schema

pytestmark = pytest.mark.integration

A, B, C, D = "cred-a", "cred-b", "cred-c", "cred-d"
E = "x' OR '1'='1"
"""A credential id that looks like SQL: it must be matched as a plain string."""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _a(sequence: int, **fields: Any) -> dict[str, Any]:
    return {"credential_id": A, "client_id": "client-a", "user_id": "alice",
            "sequence": sequence, **fields}


def _b(sequence: int, **fields: Any) -> dict[str, Any]:
    return {"credential_id": B, "client_id": "client-b", "user_id": "alice",
            "sequence": sequence, **fields}


def _c(sequence: int, **fields: Any) -> dict[str, Any]:
    return {"credential_id": C, "client_id": "client-c", "user_id": "bob",
            "sequence": sequence, **fields}


def hand_written_history() -> list[tuple[str, LifecycleEvent]]:
    """Five credentials of three owners, in the order they are published."""
    return [
        ("A1", build_created(**_a(1, occurred_at=at(0), scoped_roles=("viewer", "storage.reader"),
                                  allow_source_cidr=("10.20.0.0/16", "2001:db8:1::/48"),
                                  expires_time=T0 + timedelta(days=30)))),
        ("C1", build_created(**_c(1, occurred_at=at(0.25), scoped_roles=("viewer",),
                                  allow_source_cidr=("2001:db8:abcd:12::/64",),
                                  expires_time=at(2)))),
        ("B1", build_created(**_b(1, occurred_at=at(0.5), scoped_roles=("billing.reader",),
                                  allow_source_cidr=(), expires_time=None))),
        ("A2", build_used(**_a(2, occurred_at=at(1), source_ip="10.20.1.7"))),
        ("C2", build_used(**_c(2, occurred_at=at(1), source_ip="2001:db8:abcd:12::1"))),
        ("E1", build_created(credential_id=E, client_id="client-e", user_id="mallory",
                             sequence=1, occurred_at=at(1), scoped_roles=("viewer",),
                             allow_source_cidr=(), expires_time=None)),
        ("B2", build_used(**_b(2, occurred_at=at(1.5), source_ip="192.168.10.5"))),
        ("A3", build_used(**_a(3, occurred_at=at(2), source_ip="2001:db8:1::7"))),
        ("D1", build_created(credential_id=D, client_id="client-d", user_id="bob", sequence=1,
                             occurred_at=at(2), scoped_roles=("billing.reader", "viewer"),
                             allow_source_cidr=(), expires_time=T0 + timedelta(days=10))),
        ("A4", build_used(**_a(4, occurred_at=at(3), source_ip="198.51.100.9", outcome="DENIED",
                               denial_reason="OUTSIDE_ALLOWED_CIDRS"))),
        ("C3", build_expired(**_c(3, occurred_at=at(3), expires_time=at(2)))),
        ("A5", build_roles_scoped(**_a(5, occurred_at=at(4), scoped_roles=("admin", "viewer"),
                                       actor_id="carol"))),
        ("C4", build_used(**_c(4, occurred_at=at(4), source_ip="2001:db8:abcd:12::1",
                               outcome="DENIED", denial_reason="EXPIRED"))),
        ("A6", build_updated(**_a(6, occurred_at=at(5), display_name=None, allow_source_cidr=(
            "10.20.0.0/16", "192.168.10.0/24", "2001:db8:1::/48")))),
        ("C6", build_used(**_c(6, occurred_at=at(5), source_ip="::ffff:10.20.3.4"))),
        ("B3", build_deleted(**_b(3, occurred_at=at(6), reason="rotated"))),
        ("B4", build_used(**_b(4, occurred_at=at(7), source_ip="192.168.10.5", outcome="DENIED",
                               denial_reason="DELETED"))),
    ]


NAMES = {(event.credential_id, event.sequence): name for name, event in hand_written_history()}
ALL = [name for name, _event in hand_written_history()]

EXPECTED_FLAGS = {
    "A3": [Anomaly.NEW_SOURCE_IP],
    "A4": [Anomaly.USE_OUTSIDE_ALLOWED_CIDRS, Anomaly.NEW_SOURCE_IP],
    "C4": [Anomaly.USE_AFTER_EXPIRY],
    "C6": [Anomaly.USE_AFTER_EXPIRY, Anomaly.USE_OUTSIDE_ALLOWED_CIDRS, Anomaly.NEW_SOURCE_IP,
           Anomaly.SEQUENCE_GAP],
    "B4": [Anomaly.USE_AFTER_DELETION],
}

TRAIL_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"credentialId": A}, ["A1", "A2", "A3", "A4", "A5", "A6"]),
    ({"userId": "alice"}, ["A1", "B1", "A2", "B2", "A3", "A4", "A5", "A6", "B3", "B4"]),
    ({"actorId": "carol"}, ["A5"]),
    ({"actorId": "expiry-sweeper"}, ["C3"]),
    ({"userId": "alice", "eventType": ["USED"]}, ["A2", "B2", "A3", "A4", "B4"]),
    ({"userId": "alice", "eventType": ["USED", "DELETED"]}, ["A2", "B2", "A3", "A4", "B3", "B4"]),
    ({"userId": "alice", "from": at(1), "to": at(5)}, ["A2", "B2", "A3", "A4", "A5"]),
    ({"credentialId": E}, ["E1"]),
    ({"credentialId": "' OR 1=1 --"}, []),
    ({"userId": "bob", "actorId": "bob"}, ["C1", "C2", "D1", "C4", "C6"]),
    ({}, ALL),
]
"""Trail filters (API names) and the entries they select, in order."""

USES_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"network": "10.20.0.0/16"}, ["A2", "C6"]),
    ({"network": "2001:db8::/32"}, ["C2", "A3", "C4"]),
    ({"network": "192.168.10.5"}, ["B2", "B4"]),
    ({"network": "198.51.100.0/24"}, ["A4"]),
    ({"network": "2001:db8:abcd:12::1"}, ["C2", "C4"]),
    ({"network": "::/0"}, ["C2", "A3", "C4", "C6"]),
    ({"network": "0.0.0.0/0"}, ["A2", "B2", "A4", "C6", "B4"]),
    ({"network": "10.0.0.0/8", "outcome": "ALLOWED"}, ["A2", "C6"]),
    ({"credentialId": C, "from": at(4)}, ["C4", "C6"]),
    ({}, ["A2", "C2", "B2", "A3", "A4", "C4", "C6", "B4"]),
]

DENIED_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["A4", "C4", "B4"]),
    ({"reason": ["EXPIRED"]}, ["C4"]),
    ({"reason": ["EXPIRED", "DELETED"]}, ["C4", "B4"]),
    ({"network": "198.51.100.0/24"}, ["A4"]),
    ({"userId": "alice", "to": at(7)}, ["A4"]),
]
DENIAL_REASONS = {"A4": "OUTSIDE_ALLOWED_CIDRS", "C4": "EXPIRED", "B4": "DELETED"}

CREDENTIAL_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, [A, B, C, D, E]),
    ({"userId": "alice"}, [A, B]),
    ({"status": "deleted"}, [B]),
    ({"status": "expired"}, [C]),
    ({"status": "active"}, [A, D, E]),
    ({"role": "admin"}, [A]),
    ({"role": "viewer"}, [A, C, D, E]),
    ({"role": "billing.reader"}, [B, D]),
    ({"role": "' OR ''='"}, []),
    ({"expiringBefore": T0 + timedelta(days=1)}, [C]),
    ({"expiringBefore": T0 + timedelta(days=31)}, [A, C, D]),
    ({"unusedSince": at(3)}, [A, B, D, E]),
    ({"from": at(0.3), "to": at(2)}, [B, E]),
    ({"userId": "bob", "status": "active"}, [D]),
]

ANOMALY_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["A3", "A4", "C4", "C6", "B4"]),
    ({"kind": ["USE_AFTER_DELETION"]}, ["B4"]),
    ({"kind": ["USE_AFTER_EXPIRY"]}, ["C4", "C6"]),
    ({"kind": ["SEQUENCE_GAP"]}, ["C6"]),
    ({"kind": ["USE_OUTSIDE_ALLOWED_CIDRS"]}, ["A4", "C6"]),
    ({"kind": ["USE_AFTER_DELETION", "SEQUENCE_GAP"]}, ["C6", "B4"]),
    ({"from": at(4)}, ["C4", "C6", "B4"]),
    ({"userId": "alice", "to": at(3)}, ["A3"]),
]

HISTORY_OF_C = ["C1", "C2", "C3", "C4", "C6"]


def names(entries: Sequence[AuditEntry]) -> list[str]:
    """The entries' names, after checking they come in strictly increasing position order."""
    positions = [entry.position for entry in entries]
    assert positions == sorted(set(positions)), positions
    return [NAMES[(entry.credential_id, entry.sequence)] for entry in entries]


# ---------------------------------------------------------------- Kafka and databases


def make_topic(bootstrap: str, partitions: int = 1) -> str:
    topic = topic_name("queries")
    ensure_topics(bootstrap, TopicLayout(topic, f"{topic}.dlq", partitions), timeout_s=30)
    return topic


def publish(bootstrap: str, topic: str, events: Sequence[LifecycleEvent]) -> None:
    with EventPublisher(bootstrap, topic, timeout_s=30) as publisher:
        publisher.publish_many(events)


def project(
    bootstrap: str, topic: str, database_url: str, batch_size: int = 1000
) -> ProjectorReport:
    """Run the real projector over the whole topic into the database until caught up."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    dead_letters = DeadLetterWriter(bootstrap, f"{topic}.dlq", 30)
    try:
        config = ProjectorConfig(
            bootstrap_servers=bootstrap, topic=topic, dead_letter_topic=f"{topic}.dlq",
            group_id=None, batch_size=batch_size, until_caught_up=True, poll_timeout_ms=200,
        )
        return Projector(config, ProjectionStore(engine), dead_letters).run()
    finally:
        dead_letters.close()
        engine.dispose()


@contextmanager
def fresh_database(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty SQLite file or PostgreSQL schema for a whole module."""
    if kind == "sqlite":
        folder: Path = request.getfixturevalue("tmp_path_factory").mktemp("queries")
        yield f"sqlite:///{folder / 'audit.db'}"
        return
    with fresh_schema(request.getfixturevalue("postgres_test_url")) as url:
        yield url


def seed_history(database_url: str, topic: str) -> None:
    """The hand-written history as projected from one partition of ``topic``, in order."""
    result = seed(database_url, [event for _name, event in hand_written_history()], topic=topic)
    assert result.applied == len(ALL) and result.duplicates == 0


@pytest.fixture(scope="module")
def history_topic(kafka_bootstrap_servers: str) -> str:
    """The hand-written history, published once per module to a one-partition topic."""
    topic = make_topic(kafka_bootstrap_servers)
    publish(kafka_bootstrap_servers, topic, [event for _name, event in hand_written_history()])
    return topic


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def history_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of each kind holding the projected hand-written history (no Kafka)."""
    with fresh_database(request.param, request) as url:
        seed_history(url, topic_name("queries"))
        yield url


@pytest.fixture(scope="module")
def history_engine(history_url: str) -> Iterator[sa.Engine]:
    engine = create_engine_for(history_url)
    yield engine
    engine.dispose()


def every_entry(
    fetch: Callable[[AuditPageRequest], Page[AuditEntry]], limit: int = 100
) -> list[AuditEntry]:
    return list(walk(fetch, AuditPageRequest(limit=limit)))


# ---------------------------------------------------------------- the Kafka path


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_the_real_projection_of_the_history_is_what_the_query_tests_read(
    kind: str, request: pytest.FixtureRequest, kafka_bootstrap_servers: str, history_topic: str
) -> None:
    """Published to Kafka and projected by the real projector, the history gives exactly the
    rows (positions, payloads, states, offsets, chain hashes) the other tests seed directly."""
    with fresh_database(kind, request) as projected, fresh_database(kind, request) as seeded:
        report = project(kafka_bootstrap_servers, history_topic, projected)
        assert report.applied == len(ALL) and report.dead_lettered == 0
        seed_history(seeded, history_topic)
        assert contents(projected) == contents(seeded)
        engine = create_engine_for(projected)
        try:
            with engine.connect() as connection:
                entries = every_entry(
                    lambda page: audit_trail(connection, TrailFilter(), page), limit=5
                )
                flagged = every_entry(
                    lambda page: anomalies(connection, AnomalyFilter(), page), limit=5
                )
        finally:
            engine.dispose()
    assert names(entries) == ALL
    assert {names([entry])[0]: list(entry.anomalies) for entry in flagged} == EXPECTED_FLAGS


# ---------------------------------------------------------------- the questions


@pytest.mark.parametrize(("given", "expected"), TRAIL_CASES)
def test_trail_selects_exactly_the_matching_entries_in_order(
    history_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    query = TrailFilter.model_validate(given)
    with history_engine.connect() as connection:
        entries = every_entry(lambda page: audit_trail(connection, query, page))
    assert names(entries) == expected


@pytest.mark.parametrize(("given", "expected"), USES_CASES)
def test_uses_by_address_and_network(
    history_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    query = UsesFilter.model_validate(given)
    with history_engine.connect() as connection:
        entries = every_entry(lambda page: uses(connection, query, page))
    assert names(entries) == expected
    assert all(entry.event_type == "USED" and entry.source_ip for entry in entries)


@pytest.mark.parametrize(("given", "expected"), DENIED_CASES)
def test_denied_uses_carry_their_reason(
    history_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    query = UsesFilter.model_validate({**given, "outcome": "DENIED"})
    with history_engine.connect() as connection:
        entries = every_entry(lambda page: uses(connection, query, page))
    assert names(entries) == expected
    assert {name: entry.denial_reason for name, entry in zip(expected, entries, strict=True)} == {
        name: DENIAL_REASONS[name] for name in expected
    }


@pytest.mark.parametrize(("given", "expected"), CREDENTIAL_CASES)
def test_credentials_by_owner_status_role_expiry_and_last_use(
    history_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    query = CredentialFilter.model_validate(given)
    with history_engine.connect() as connection:
        found = list(walk(lambda page: list_credentials(connection, query, page),
                          CredentialPageRequest(limit=2)))
    assert [record.credential_id for record in found] == expected


@pytest.mark.parametrize(("given", "expected"), ANOMALY_CASES)
def test_anomalies_in_a_window_by_kind(
    history_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    query = AnomalyFilter.model_validate(given)
    with history_engine.connect() as connection:
        entries = every_entry(lambda page: anomalies(connection, query, page))
    assert names(entries) == expected
    assert {name: list(entry.anomalies) for name, entry in zip(expected, entries, strict=True)} == {
        name: EXPECTED_FLAGS[name] for name in expected
    }


def test_one_credentials_state_and_full_history(history_engine: sa.Engine) -> None:
    with history_engine.connect() as connection:
        state = credential_state(connection, C)
        entries = every_entry(
            lambda page: audit_trail(connection, TrailFilter(credential_id=C), page)
        )
        assert credential_state(connection, "cred-unknown") is None
        assert credential_state(connection, E) is not None
    assert state is not None
    assert (state.user_id, state.status, state.scoped_roles) == ("bob", CredentialStatus.EXPIRED,
                                                                 ("viewer",))
    assert (state.expires_time, state.last_used_at, state.last_sequence) == (at(2), at(5), 6)
    assert (state.anomaly_count, state.seen_source_ips) == (
        2, ("::ffff:10.20.3.4", "2001:db8:abcd:12::1")
    )
    assert names(entries) == HISTORY_OF_C
    assert entries[-1].payload["sourceIp"] == "::ffff:10.20.3.4"


def test_credential_states_match_the_history(history_engine: sa.Engine) -> None:
    with history_engine.connect() as connection:
        page = list_credentials(connection, CredentialFilter(), CredentialPageRequest())
    states: dict[str, CredentialRecord] = {record.credential_id: record for record in page.rows}
    assert states[A].scoped_roles == ("admin", "viewer")
    assert states[A].allow_source_cidr == ("10.20.0.0/16", "192.168.10.0/24", "2001:db8:1::/48")
    assert states[A].last_used_at == at(2)
    assert states[B].deleted_at == at(6) and states[B].status is CredentialStatus.DELETED
    assert states[D].last_used_at is None and states[E].user_id == "mallory"


# ---------------------------------------------------------------- pages


def test_small_pages_walk_every_entry_once_and_end_without_a_cursor(
    history_engine: sa.Engine,
) -> None:
    query = TrailFilter(user_id="alice")
    pages: list[Page[AuditEntry]] = []
    request = AuditPageRequest(limit=3)
    with history_engine.connect() as connection:
        while True:
            page = audit_trail(connection, query, request)
            pages.append(page)
            if page.next_cursor is None:
                break
            request = AuditPageRequest(limit=3, cursor=page.next_cursor)
    assert [len(page.rows) for page in pages] == [3, 3, 3, 1]
    assert names([entry for page in pages for entry in page.rows]) == TRAIL_CASES[1][1]


def test_an_exactly_full_last_page_has_no_next_cursor(history_engine: sa.Engine) -> None:
    with history_engine.connect() as connection:
        page = audit_trail(connection, TrailFilter(credential_id=A), AuditPageRequest(limit=6))
        credentials_page = list_credentials(
            connection, CredentialFilter(user_id="alice"), CredentialPageRequest(limit=2)
        )
    assert len(page.rows) == 6 and page.next_cursor is None
    assert len(credentials_page.rows) == 2 and credentials_page.next_cursor is None


def test_python_checked_network_pages_of_one(history_engine: sa.Engine) -> None:
    query = UsesFilter(network="0.0.0.0/0")
    with history_engine.connect() as connection:
        entries = every_entry(lambda page: uses(connection, query, page), limit=1)
    assert names(entries) == ["A2", "B2", "A4", "C6", "B4"]


def test_an_empty_audit_log_has_one_empty_page(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            page = audit_trail(connection, TrailFilter(), AuditPageRequest())
            credentials_page = list_credentials(
                connection, CredentialFilter(), CredentialPageRequest()
            )
    finally:
        engine.dispose()
    assert page == Page((), None) and credentials_page == Page((), None)


BULK_USER = "user-0001"
"""The owner tests.builders.history gives every credential."""


def _appender(
    engine: sa.Engine, topic: str, events: list[LifecycleEvent], started: threading.Event
) -> None:
    """Append ``events`` through the store in small, paced transactions."""
    store = ProjectionStore(engine)
    for offset in range(0, len(events), 25):
        batch = [
            PositionedEvent(event, topic, 0, offset + index)
            for index, event in enumerate(events[offset : offset + 25])
        ]
        store.apply(batch, {(topic, 0): offset + len(batch)})
        started.set()
        time.sleep(0.01)


def test_pages_stay_stable_while_events_are_appended(database_url: str) -> None:
    topic = topic_name("queries")
    initial = [event for index in range(30) for event in history(f"bulk-{index:02d}", 100)]
    assert seed(database_url, initial, topic=topic, partitions=3).applied == 3000
    later = [event for index in range(30, 40) for event in history(f"bulk-{index:02d}", 100)]
    engine = create_engine_for(database_url)
    started = threading.Event()
    appender = threading.Thread(
        target=_appender, args=(engine, f"{topic}.appended", later, started), daemon=True
    )
    appender.start()
    query = TrailFilter(user_id=BULK_USER)
    seen: list[AuditEntry] = []
    cursors: list[str] = []
    counts_during_walk: list[int] = []
    try:
        assert started.wait(30)
        request = AuditPageRequest(limit=97)
        while True:
            with engine.connect() as connection:
                page = audit_trail(connection, query, request)
                counts_during_walk.append(_count(connection))
            seen.extend(page.rows)
            if page.next_cursor is None:
                break
            cursors.append(page.next_cursor)
            request = AuditPageRequest(limit=97, cursor=page.next_cursor)
            time.sleep(0.005)
    finally:
        appender.join(60)
    assert not appender.is_alive()
    horizon = decode_audit_cursor(cursors[0]).horizon
    positions = [entry.position for entry in seen]
    assert positions == sorted(set(positions)), "an entry was repeated or out of order"
    with engine.connect() as connection:
        total = _count(connection)
        expected = list(connection.scalars(
            sa.select(audit_log.c.event_id)
            .where(audit_log.c.user_id == BULK_USER, audit_log.c.position <= horizon)
            .order_by(audit_log.c.position)
        ))
    engine.dispose()
    assert [entry.event_id for entry in seen] == expected, "an entry was missed"
    assert len(seen) >= 3000 and total == 4000
    assert len(seen) < total, "the walk ran past the horizon it started with"
    assert counts_during_walk[-1] > counts_during_walk[0], "nothing was appended during the walk"


def _count(connection: sa.Connection) -> int:
    return int(connection.scalar(sa.select(sa.func.count()).select_from(audit_log)) or 0)


def test_cursor_round_trip() -> None:
    cursor = AuditCursor(after=41, horizon=99)
    assert decode_audit_cursor(cursor.encode()) == cursor


# ---------------------------------------------------------------- the SQLite network prefilter

_ADDRESSES = sa.Table("addresses", sa.MetaData(), sa.Column("source_ip", sa.Text))


@st.composite
def _network_and_addresses(draw: st.DrawFn) -> tuple[str, list[str]]:
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, bits))
    base = draw(st.integers(0, 2**bits - 1)) >> (bits - prefix) << (bits - prefix)
    network = ipaddress.ip_network((base, prefix)) if version == 4 else ipaddress.IPv6Network(
        (base, prefix)
    )
    inside = [
        network.network_address + draw(st.integers(0, network.num_addresses - 1))
        for _ in range(5)
    ]
    anywhere = draw(st.lists(st.integers(0, 2**bits - 1), max_size=5))
    addresses = [address_text(address) for address in inside]
    addresses += [
        address_text(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value))
        for value in anywhere
    ]
    if version == 4:
        addresses += [address_text(ipaddress.IPv6Address(f"::ffff:{a}")) for a in inside]
    return str(network), addresses


@settings(max_examples=300, deadline=None)
@given(_network_and_addresses())
def test_sqlite_prefilter_never_drops_a_match(case: tuple[str, list[str]]) -> None:
    network, addresses = case
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        _ADDRESSES.create(connection)
        connection.execute(_ADDRESSES.insert(), [{"source_ip": each} for each in addresses])
        condition = text_prefix_condition(_ADDRESSES.c.source_ip, network)
        candidates = set(connection.scalars(sa.select(_ADDRESSES.c.source_ip).where(condition)))
    engine.dispose()
    expected = _expected_matches(network, addresses)
    for address in addresses:
        assert network_contains(network, address) == (address in expected), (network, address)
    assert expected <= candidates, (network, expected - candidates)


def _expected_matches(network: str, addresses: list[str]) -> set[str]:
    parsed = ipaddress.ip_network(network)
    found = set()
    for address in addresses:
        value = ipaddress.ip_address(address)
        mapped = value.ipv4_mapped if isinstance(value, ipaddress.IPv6Address) else None
        if (value.version == parsed.version and value in parsed) or (
            mapped is not None and parsed.version == 4 and mapped in parsed
        ):
            found.add(address)
    return found


@pytest.fixture(scope="module")
def postgres_engine(postgres_test_url: str) -> Iterator[sa.Engine]:
    engine = create_engine_for(postgres_test_url)
    yield engine
    engine.dispose()


@settings(max_examples=150, deadline=None)
@given(case=_network_and_addresses())
def test_postgresql_inet_condition_is_exact(
    postgres_engine: sa.Engine, case: tuple[str, list[str]]
) -> None:
    network, addresses = case
    table = sa.Table("addresses", sa.MetaData(), sa.Column("source_ip", sa.Text),
                     prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    with postgres_engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), [{"source_ip": each} for each in addresses])
        condition, keep = POSTGRESQL.address_in_network(table.c.source_ip, network)
        assert keep is None
        found = set(connection.scalars(sa.select(table.c.source_ip).where(condition)))
    assert found == _expected_matches(network, addresses)
