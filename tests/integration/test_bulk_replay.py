"""Bulk replay through the real broker into SQLite and PostgreSQL: the tables of the live
projection, hashes and Merkle nodes included, on a stream with every kind of surprise."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from producer.simulate import Simulation, SimulationConfig
from projections.bulk.store import BulkStore
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from schemas.codec import EventCodec
from tests.integration.bulk_support import differing, index_definitions, surprising_events, tables
from tests.integration.forensics_support import run
from tests.integration.projector_support import Topics, make_topics, project, publish

pytestmark = pytest.mark.integration

DEAD_LETTERS = 2
CONFLICTS = 2


def send_raw(topics: Topics, messages: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all")
    for key, value in messages:
        producer.send(topics.lifecycle, key=key, value=value)
    producer.flush(30)
    producer.close()


@pytest.fixture(scope="module")
def surprising_stream(kafka_bootstrap_servers: str) -> Topics:
    """Simulated credentials, then gaps, late and duplicate sequences, re-deliveries, an
    undecodable message, a message under another credential's key, and events reusing an id
    with other content."""
    topics = make_topics(kafka_bootstrap_servers, f"t{uuid.uuid4().hex[:10]}", partitions=3)
    simulated = list(Simulation(SimulationConfig(credentials=300, seed=17)).events())
    surprising, conflicting = surprising_events()
    publish(topics, simulated[: len(simulated) // 2])
    publish(topics, surprising)
    send_raw(topics, [
        (b"cred-gap", b"not avro at all"),
        (b"someone-else", EventCodec().encode(surprising[0])),
    ])
    publish(topics, simulated[len(simulated) // 2 :])
    publish(topics, [*surprising[:3], *conflicting])
    return topics


@pytest.fixture(scope="module")
def live_projection(surprising_stream: Topics, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The live projector's SQLite database of the stream (small batches, a group)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    report = project(surprising_stream, url, group=f"g{uuid.uuid4().hex[:8]}", batch_size=150)
    assert report.dead_lettered == DEAD_LETTERS + CONFLICTS
    return url


def test_a_bulk_replay_builds_the_live_projections_tables(
    surprising_stream: Topics, live_projection: str, database_url: str
) -> None:
    result = run(surprising_stream, live_projection, "replay", "--into", database_url,
                 "--no-progress", "--format", "json")

    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert summary["complete"] is True
    assert summary["refused"] == DEAD_LETTERS + CONFLICTS
    live, bulk = tables(live_projection), tables(database_url)
    assert summary["applied"] == len(live["audit_log"])
    assert {"SEQUENCE_LATE", "SEQUENCE_DUPLICATE", "SEQUENCE_GAP"} <= {
        flag for row in live["audit_log"].values() for flag in row["anomalies"]
    }
    assert differing(live, bulk) == {}
    migrated = database_url.replace("audit.db", "migrated.db") if "sqlite" in database_url \
        else None
    if migrated is not None:
        upgrade(migrated)
        assert index_definitions(database_url) == index_definitions(migrated)


def test_a_bulk_replay_by_two_workers_builds_the_same_tables(
    surprising_stream: Topics, live_projection: str, database_url: str
) -> None:
    result = run(surprising_stream, live_projection, "replay", "--into", database_url,
                 "--workers", "2", "--no-progress", "--format", "json")

    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert (summary["complete"], summary["refused"]) == (True, DEAD_LETTERS + CONFLICTS)
    assert differing(tables(live_projection), tables(database_url)) == {}


def test_verify_finds_a_bulk_replay_equal_to_the_live_projection(
    surprising_stream: Topics, live_projection: str, pg_url: str
) -> None:
    for scratch in (("--scratch", pg_url), ()):
        result = run(surprising_stream, live_projection, "verify", *scratch, "--no-progress")
        assert result.exit_code == 0, result.stderr
        assert ": 0 differences" in result.stderr


def test_a_bulk_replay_and_a_live_replay_agree(
    surprising_stream: Topics, live_projection: str, tmp_path: Path
) -> None:
    bulk, live = f"sqlite:///{tmp_path / 'bulk.db'}", f"sqlite:///{tmp_path / 'live-replay.db'}"
    for target, extra in ((bulk, ()), (live, ("--live",))):
        result = run(surprising_stream, live_projection, "replay", "--into", target, *extra,
                     "--no-progress")
        assert result.exit_code == 0, result.stderr
    assert differing(tables(live), tables(bulk)) == {}


def test_an_unfinished_bulk_replay_is_not_resumed(
    surprising_stream: Topics, live_projection: str, database_url: str
) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    store = BulkStore(engine, surprising_stream.lifecycle)
    try:
        store.begin()
    finally:
        store.close()
        engine.dispose()

    result = run(surprising_stream, live_projection, "replay", "--into", database_url,
                 "--resume", "--no-progress")

    assert result.exit_code == 1
    assert "bulk replay that did not finish" in result.stderr
    assert "cannot be resumed" in result.stderr
    again = run(surprising_stream, live_projection, "replay", "--into", database_url,
                "--no-progress")
    assert again.exit_code == 1
    assert "already holds projections" in again.stderr
