"""The bulk store against the live store on real SQLite and PostgreSQL: the same batches
applied either way give the same tables, and the bulk store then continues live."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from itertools import islice
from pathlib import Path

import pytest
import sqlalchemy as sa

from consumer.projector import offsets_after
from consumer.replay import target_is_empty, unfinished_bulk_load
from producer.simulate import Simulation, SimulationConfig
from projections.bulk.ledger import EventLedger
from projections.bulk.store import BulkLoadError, BulkStore
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.model.anomalies import Anomaly
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore, RefusedEventsError
from schemas.models import LifecycleEvent
from tests.integration.bulk_support import (
    differing,
    index_definitions,
    stored_text,
    surprising_events,
    tables,
)
from tests.seeding import DATABASE_KINDS, place
from tests.services import fresh_schema

pytestmark = pytest.mark.integration

TOPIC = "bulk.lifecycle"


@pytest.fixture(params=DATABASE_KINDS)
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty, migrated databases of one kind: (for the live store, for the bulk one)."""
    if request.param == "sqlite":
        urls = (f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'bulk.db'}")
        for url in urls:
            upgrade(url)
        yield urls
        return
    base = str(request.getfixturevalue("postgres_test_url"))
    with ExitStack() as stack:
        urls = (stack.enter_context(fresh_schema(base)), stack.enter_context(fresh_schema(base)))
        for url in urls:
            upgrade(url)
        yield urls


def stream() -> list[LifecycleEvent]:
    """Simulated credentials with the surprising events among them, re-deliveries, and the
    conflicting events last (a re-delivery after a conflicting event in the same batch is
    refused too, in the live store: the first occurrence in a batch is what the others are
    compared with)."""
    simulation = Simulation(SimulationConfig(credentials=150, seed=5))
    simulated = list(simulation.events())
    surprising, conflicting = surprising_events()
    middle = len(simulated) // 2
    return [*simulated[:middle], *surprising, *simulated[middle:], *surprising[:3],
            *conflicting]


def drive(
    store: ProjectionStore | BulkStore, placed: Sequence[PositionedEvent], batch_size: int
) -> list[PositionedEvent]:
    """Apply ``placed`` in batches as the projector does (refused events left out, the rest
    applied again); the refused events."""
    refused: list[PositionedEvent] = []
    iterator = iter(placed)
    while batch := list(islice(iterator, batch_size)):
        pending = batch
        while True:
            try:
                store.apply(pending, offsets_after(batch))
                break
            except RefusedEventsError as exc:
                gone = {id(positioned) for positioned, _reason in exc.refused}
                refused.extend(positioned for positioned, _reason in exc.refused)
                pending = [positioned for positioned in pending if id(positioned) not in gone]
    return refused


def bulk_load(url: str, placed: Sequence[PositionedEvent], batch_size: int,
              ledger: EventLedger | None = None) -> list[PositionedEvent]:
    engine = create_engine_for(url)
    store = BulkStore(engine, TOPIC, ledger=ledger)
    try:
        store.begin()
        refused = drive(store, placed, batch_size)
        store.finish()
        return refused
    finally:
        store.close()
        engine.dispose()


def live_apply(
    url: str, placed: Sequence[PositionedEvent], batch_size: int
) -> list[PositionedEvent]:
    engine = create_engine_for(url)
    try:
        return drive(ProjectionStore(engine), placed, batch_size)
    finally:
        engine.dispose()


def anomalies_of(url: str) -> set[str]:
    return {flag for row in tables(url)["audit_log"].values() for flag in row["anomalies"]}


@pytest.mark.parametrize("memory_limit", [None, 100], ids=["in-memory", "spilled"])
def test_a_bulk_load_writes_the_tables_the_live_store_writes(
    two_databases: tuple[str, str], memory_limit: int | None
) -> None:
    live_url, bulk_url = two_databases
    placed, _offsets = place(stream(), TOPIC, partitions=3)
    ledger = None if memory_limit is None else EventLedger(memory_limit)

    live_refused = live_apply(live_url, placed, batch_size=37)
    bulk_refused = bulk_load(bulk_url, placed, batch_size=500, ledger=ledger)

    assert len(live_refused) == 2, "the two events reusing an id with other content"
    assert [p.offset for p in bulk_refused] == [p.offset for p in live_refused]
    assert {Anomaly.SEQUENCE_LATE, Anomaly.SEQUENCE_DUPLICATE, Anomaly.SEQUENCE_GAP,
            Anomaly.EVENT_BEFORE_CREATION} <= anomalies_of(live_url)
    live, bulk = tables(live_url), tables(bulk_url)
    assert len(live["audit_log"]) == len(placed) - 2 - 3 - 2, "duplicates and conflicts left out"
    assert differing(live, bulk) == {}
    assert stored_text(bulk_url) == stored_text(live_url), "the same stored bytes"
    assert index_definitions(bulk_url) == index_definitions(live_url)


def test_a_bulk_store_continues_as_a_live_one(two_databases: tuple[str, str]) -> None:
    live_url, bulk_url = two_databases
    placed, _offsets = place(stream(), TOPIC, partitions=2)
    first, rest = placed[: len(placed) // 2], placed[len(placed) // 2 :]
    live_apply(live_url, first, batch_size=100)
    bulk_load(bulk_url, first, batch_size=1000)

    for url in two_databases:
        live_apply(url, rest, batch_size=100)

    assert differing(tables(live_url), tables(bulk_url)) == {}


def test_an_unfinished_bulk_load_is_marked_and_a_used_target_refused(
    two_databases: tuple[str, str],
) -> None:
    live_url, bulk_url = two_databases
    placed, _offsets = place(stream()[:50], TOPIC)
    live_apply(live_url, placed, batch_size=10)
    engine = create_engine_for(bulk_url)
    try:
        with pytest.raises(BulkLoadError, match="not empty"):
            BulkStore(create_engine_for(live_url), TOPIC).begin()
        store = BulkStore(engine, TOPIC)
        store.begin()
        drive(store, placed, 20)
        store.close()
        with engine.connect() as connection:
            kept = connection.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()

    assert kept == 50
    assert unfinished_bulk_load(bulk_url) == TOPIC
    assert unfinished_bulk_load(live_url) is None
    assert not target_is_empty(bulk_url)
    assert tables(bulk_url)["credentials"] == {}, "states are written only when finished"
