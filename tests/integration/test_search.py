"""The search language answered on SQLite and PostgreSQL: qualifiers, negation, OR, free
words against display names, paging both ways; the same answers as the other questions'
filters; saved searches, verification records, anomaly counts and credential timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa

from projections.chain.records import (
    VerificationRecord,
    latest_verification,
    record_verification,
)
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.model.anomalies import Anomaly
from projections.model.changes import Change
from projections.model.positioned import PositionedEvent
from projections.queries import AuditPageRequest, walk
from projections.queries.anomaly_counts import anomaly_days, default_window, most_flagged
from projections.queries.filters import Windowed
from projections.queries.saved_searches import list_saved_searches, saved_search
from projections.queries.search import parse_search, search, search_page_request
from projections.queries.timeline import credential_timeline
from projections.queries.use_groups import group_uses
from projections.write.saved_searches import delete_search, save_search
from projections.write.store import ProjectionStore
from tests.integration.search_support import (
    ALL,
    NEWEST_FIRST,
    F,
    G,
    H,
    as_query,
    names,
    newest_first,
    search_engine,
    search_history,
    search_url,
)
from tests.integration.test_queries import (
    ANOMALY_CASES,
    DENIED_CASES,
    TRAIL_CASES,
    USES_CASES,
    A,
    at,
)
from tests.seeding import seed

pytestmark = pytest.mark.integration

__all__ = ["search_engine", "search_url"]

SEARCH_CASES: list[tuple[str, list[str]]] = [
    ("", ALL),
    ("type:CREATED type:DELETED", ["A1", "C1", "B1", "E1", "D1", "B3", "F1", "G1", "H1"]),
    ("type:USED -outcome:ALLOWED", ["A4", "C4", "B4"]),
    ("-outcome:ALLOWED user:alice", ["A1", "B1", "A4", "A5", "A6", "B3", "B4"]),
    ("user:alice user:bob type:USED", ["A2", "C2", "B2", "A3", "A4", "C4", "C6", "B4"]),
    ("user:alice -credential:cred-a", ["B1", "B2", "B3", "B4"]),
    ("reason:EXPIRED reason:DELETED", ["C4", "B4"]),
    ("outcome:DENIED -reason:EXPIRED", ["A4", "B4"]),
    ("client:client-c type:USED", ["C2", "C4", "C6"]),
    ("correlation:req-shared", ["F1", "G1"]),
    ("actor:carol", ["A5"]),
    ("-actor:alice -actor:bob -actor:frank -actor:mallory", ["C3", "A5"]),
    ("anomaly:any", ["A3", "A4", "C4", "C6", "B4"]),
    ("-anomaly:any type:USED", ["A2", "C2", "B2", "F2"]),
    ("anomaly:USE_AFTER_EXPIRY anomaly:USE_AFTER_DELETION", ["C4", "C6", "B4"]),
    ("anomaly:any -anomaly:NEW_SOURCE_IP", ["C4", "B4"]),
    ("ip:192.168.10.5", ["B2", "B4"]),
    ("ip:10.20.3.4", ["C6"]),
    ("ip:::ffff:10.20.3.4", ["C6"]),
    ("network:10.0.0.0/8 network:203.0.113.0/24", ["A2", "C6", "F2"]),
    ("network:2001:db8::/32 -ip:2001:db8:abcd:12::1", ["A3"]),
    ("type:USED -network:10.0.0.0/8 -network:2001:db8::/32", ["B2", "A4", "B4", "F2"]),
    ("-network:0.0.0.0/0 -network:::/0", [
        "A1", "C1", "B1", "E1", "D1", "C3", "A5", "A6", "B3", "F1", "G1", "H1", "G2",
    ]),
    ("role:admin", ["A1", "A2", "A3", "A4", "A5", "A6", "G1", "G2"]),
    ("role:auditor role:billing.reader type:CREATED", ["B1", "D1", "F1", "G1"]),
    ("-role:viewer type:CREATED", ["B1", "F1", "G1", "H1"]),
    ("after:2026-03-03T12:00:00Z before:2026-03-03T14:00:00Z", ["A3", "D1", "A4", "C3"]),
    ("after:2026-03-03T13:00:00+01:00 before:2026-03-03T13:00:01+01:00", ["A3", "D1"]),
    ("laptop", ["F1", "F2"]),
    ("LAPTOP müller", ["F1", "F2"]),
    ("MÜLLER", []),
    ('"50%_off"', ["F1", "F2"]),
    ("%", ["F1", "F2"]),
    ("_", ["F1", "F2"]),
    ("deploy key", [name for name in ALL if name[0] in "ABCDE"]),
    ("-deploy type:CREATED", ["F1", "G1", "H1"]),
    ("build", ["G1", "G2"]),
    ("yolped", []),
    ("credential:\"x' OR '1'='1\"", ["E1"]),
    ("credential:\"' OR 1=1 --\"", []),
    ("\"'; DROP TABLE audit_log; --\"", []),
]
"""Queries and the entries they select, oldest first (the default order is newest first)."""


def every_entry(connection: sa.Connection, query: str, limit: int = 100) -> list[Any]:
    parsed = parse_search(query)
    return list(walk(lambda page: search(connection, parsed, page),
                     search_page_request(parsed, limit)))


@pytest.mark.parametrize(("query", "expected"), SEARCH_CASES)
def test_search(search_engine: sa.Engine, query: str, expected: list[str]) -> None:
    with search_engine.connect() as connection:
        assert names(every_entry(connection, query)) == newest_first(expected)
        oldest = every_entry(connection, f"{query} sort:oldest")
        assert names(oldest, newest_first=False) == expected


@pytest.mark.parametrize(("query", "expected"), SEARCH_CASES[:12])
def test_pages_of_two_walk_the_same_entries(
    search_engine: sa.Engine, query: str, expected: list[str]
) -> None:
    with search_engine.connect() as connection:
        assert names(every_entry(connection, query, limit=2)) == newest_first(expected)
        assert names(every_entry(connection, f"sort:oldest {query}", limit=2),
                     newest_first=False) == expected


def _of_the_query_history(
    connection: sa.Connection, query: str, *implied: str
) -> list[str]:
    """The entries (names, oldest first) of ``query``, among those of the query tests'
    history (the search history adds credentials F, G and H)."""
    found = names(every_entry(connection, " ".join([*implied, query, "sort:oldest"])),
                  newest_first=False)
    return [name for name in found if name[0] not in "FGH"]


@pytest.mark.parametrize(("given", "expected"), TRAIL_CASES)
def test_a_trail_filter_written_as_a_search_gives_the_trail(
    search_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    with search_engine.connect() as connection:
        assert _of_the_query_history(connection, as_query(given)) == expected


@pytest.mark.parametrize(("given", "expected"), USES_CASES)
def test_a_uses_filter_written_as_a_search_gives_the_uses(
    search_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    with search_engine.connect() as connection:
        assert _of_the_query_history(connection, as_query(given), "type:USED") == expected


@pytest.mark.parametrize(("given", "expected"), DENIED_CASES)
def test_a_denied_filter_written_as_a_search_gives_the_denials(
    search_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    with search_engine.connect() as connection:
        assert _of_the_query_history(connection, as_query(given), "outcome:DENIED") == expected


@pytest.mark.parametrize(("given", "expected"), ANOMALY_CASES)
def test_an_anomaly_filter_written_as_a_search_gives_the_anomalies(
    search_engine: sa.Engine, given: dict[str, Any], expected: list[str]
) -> None:
    implied = () if "kind" in given else ("anomaly:any",)
    with search_engine.connect() as connection:
        assert _of_the_query_history(connection, as_query(given), *implied) == expected


def test_later_pages_stay_below_the_horizon_of_the_first(database_url: str) -> None:
    """Entries recorded during a walk are not in it, whichever its direction."""
    events = [event for _name, event in search_history()]
    seed(database_url, events[:6], topic="t.horizon")
    engine = create_engine_for(database_url)
    try:
        walks = {}
        with engine.connect() as connection:
            for query in ("", "sort:oldest"):
                parsed = parse_search(query)
                walks[query] = (parsed, search(connection, parsed,
                                               search_page_request(parsed, 4)))
        ProjectionStore(engine).apply(
            [PositionedEvent(event, "t.horizon", 0, 6 + index)
             for index, event in enumerate(events[6:9])],
            {("t.horizon", 0): 9},
        )
        with engine.connect() as connection:
            for query, (parsed, first) in walks.items():
                assert first.next_cursor is not None
                rest = search(connection, parsed,
                              search_page_request(parsed, 100, first.next_cursor))
                walked = names([*first.rows, *rest.rows], newest_first=query == "")
                expected = ["A1", "C1", "B1", "A2", "C2", "E1"]
                assert walked == (expected if query else newest_first(expected))
            assert len(every_entry(connection, "")) == 9
    finally:
        engine.dispose()


def test_a_cursor_continues_only_a_walk_in_its_own_direction(search_engine: sa.Engine) -> None:
    newest = parse_search("type:USED")
    with search_engine.connect() as connection:
        page = search(connection, newest, search_page_request(newest, 2))
    assert page.next_cursor is not None
    with pytest.raises(pydantic.ValidationError, match="walk newest first"):
        search_page_request(parse_search("type:USED sort:oldest"), 2, page.next_cursor)
    with pytest.raises(pydantic.ValidationError, match="cursor"):
        AuditPageRequest.model_validate({"cursor": page.next_cursor})


def test_an_empty_log_has_no_entries(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            assert every_entry(connection, "") == []
    finally:
        engine.dispose()


# ---------------------------------------------------------------- saved searches


def test_saved_searches_are_kept_replaced_listed_and_deleted(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    first = datetime(2026, 3, 3, tzinfo=UTC)
    try:
        save_search(engine, "denied-alice", "user:alice outcome:DENIED", first)
        save_search(engine, "b.admins", 'role:admin "ünïcode"', first)
        save_search(engine, "denied-alice", "user:alice -outcome:ALLOWED",
                    first + timedelta(hours=1))
        with engine.connect() as connection:
            listed = list_saved_searches(connection)
            assert [(s.name, s.query) for s in listed] == [
                ("b.admins", 'role:admin "ünïcode"'),
                ("denied-alice", "user:alice -outcome:ALLOWED"),
            ]
            replaced = saved_search(connection, "denied-alice")
            assert replaced is not None
            assert (replaced.created_at, replaced.updated_at) == (
                first, first + timedelta(hours=1)
            )
            assert saved_search(connection, "missing") is None
        assert delete_search(engine, "b.admins") is True
        assert delete_search(engine, "b.admins") is False
        for bad in ("", "has space", "-leading", "x" * 65, "semi;colon", "ünï"):
            with pytest.raises(ValueError, match="is not a search name"):
                save_search(engine, bad, "type:USED", first)
        with engine.connect() as connection:
            assert [s.name for s in list_saved_searches(connection)] == ["denied-alice"]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- verification records


def test_the_latest_verification_record_is_the_last_written(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            assert latest_verification(connection) is None
        older = VerificationRecord(datetime(2026, 3, 3, tzinfo=UTC), False, 2, 0, [
            {"check": "chain", "partition": 0, "result": "intact"},
        ])
        newer = VerificationRecord(datetime(2026, 3, 4, tzinfo=UTC), True, 4, 1, [
            {"check": "chain", "partition": 0, "result": "altered", "detail": "ünï \u202e"},
        ])
        record_verification(engine, older)
        record_verification(engine, newer)
        with engine.connect() as connection:
            latest = latest_verification(connection)
        assert latest == newer and not latest.intact
    finally:
        engine.dispose()


# ---------------------------------------------------------------- anomaly counts


def test_anomalies_are_counted_per_kind_per_day(search_engine: sa.Engine) -> None:
    with search_engine.connect() as connection:
        window = default_window(connection)
        assert (window.start, window.end) == (
            datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
        )
        counts = anomaly_days(connection, window)
        narrow = anomaly_days(connection, Windowed.model_validate({"from": at(4)}))
        top = most_flagged(connection, window, limit=2)
    day = date(2026, 3, 3)
    assert [(c.day, c.kind, c.count) for c in counts] == [
        (day, Anomaly.USE_AFTER_DELETION, 1),
        (day, Anomaly.USE_AFTER_EXPIRY, 2),
        (day, Anomaly.USE_OUTSIDE_ALLOWED_CIDRS, 2),
        (day, Anomaly.NEW_SOURCE_IP, 3),
        (day, Anomaly.SEQUENCE_GAP, 1),
    ]
    assert sum(c.count for c in narrow) == 6
    assert [(t.credential_id, t.user_id, t.flagged) for t in top] == [
        ("cred-a", "alice", 2), ("cred-c", "bob", 2),
    ]


def test_an_empty_log_has_a_default_window_ending_today(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            window = default_window(connection, days=7)
            assert window.end is not None and window.start is not None
            assert window.end - window.start == timedelta(days=7)
            assert anomaly_days(connection, window) == []
            assert most_flagged(connection, window) == []
    finally:
        engine.dispose()


# ---------------------------------------------------------------- timelines


def test_a_timeline_says_what_each_event_changed(search_engine: sa.Engine) -> None:
    with search_engine.connect() as connection:
        timeline = credential_timeline(connection, A)
        renamed = credential_timeline(connection, G)
        unknown = credential_timeline(connection, "nobody")
    assert [step.entry.event_type.value for step in timeline.steps] == [
        "CREATED", "USED", "USED", "USED", "ROLES_SCOPED", "UPDATED",
    ]
    created, *uses, scoped, updated = [step.changes for step in timeline.steps]
    assert created == (
        Change("scoped_roles", added=("storage.reader", "viewer")),
        Change("allow_source_cidr", added=("10.20.0.0/16", "2001:db8:1::/48")),
        Change("display_name", after="CI deploy key"),
        Change("expires_time", after="2026-04-02T10:00:00Z"),
    )
    assert uses == [(), (), ()]
    assert scoped == (Change("scoped_roles", added=("admin",), removed=("storage.reader",)),)
    assert updated == (Change("allow_source_cidr", added=("192.168.10.0/24",)),)
    assert renamed.steps[-1].changes == (
        Change("display_name", before=renamed.steps[0].state.display_name, after="build bot"),
    )
    assert [step.entry.position for step in timeline.newest_first()] == sorted(
        (step.entry.position for step in timeline.steps), reverse=True
    )
    assert unknown.steps == []


def test_uses_are_grouped_by_address_and_network(search_engine: sa.Engine) -> None:
    with search_engine.connect() as connection:
        timeline = credential_timeline(connection, A)
    state = timeline.steps[-1].state
    by_address, by_network = group_uses([s.entry for s in timeline.steps],
                                        state.allow_source_cidr)
    assert [(g.source, g.uses, g.allowed, g.denied, g.within_allowed) for g in by_address] == [
        ("10.20.1.7", 1, 1, 0, True),
        ("198.51.100.9", 1, 0, 1, False),
        ("2001:db8:1::7", 1, 1, 0, True),
    ]
    assert [g.source for g in by_network] == ["10.20.1.0/24", "198.51.100.0/24", "2001:db8:1::/64"]


def test_a_credential_without_uses_has_no_use_groups(search_engine: sa.Engine) -> None:
    with search_engine.connect() as connection:
        timeline = credential_timeline(connection, H)
    assert group_uses([s.entry for s in timeline.steps], ()) == ([], [])
    assert [step.entry.credential_id for step in timeline.steps] == [H]
    assert F != H and NEWEST_FIRST[0] == "G2"
