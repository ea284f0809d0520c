"""Bulk replays by two worker processes through the real broker, into PostgreSQL (every
worker in the target) and into SQLite (the second worker in a scratch file merged at the
end): the live projection's tables, every index, no scratch file left, and the load done
again in one process when an event id or a credential is in the partitions of both
workers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from producer.simulate import Simulation, SimulationConfig
from projections.bulk.scratch import SCRATCH_PREFIX
from projections.db.migrate import upgrade
from schemas.codec import EventCodec
from schemas.models import LifecycleEvent
from tests.builders_projection import History
from tests.integration.bulk_support import (
    differing,
    index_definitions,
    refuse_directories,
    tables,
)
from tests.integration.forensics_support import run
from tests.integration.projector_support import Topics, make_topics, project, publish
from tests.services import fresh_schema

pytestmark = pytest.mark.integration

FELL_BACK = "loading again in one process"


@pytest.fixture
def migrated_indexes(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The index definitions of a freshly migrated database of ``database_url``'s kind."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
        upgrade(url)
        yield index_definitions(url)
        return
    name = f"{request.getfixturevalue('unique_name')}_migrated"
    with fresh_schema(request.getfixturevalue("postgres_test_url"), name) as url:
        upgrade(url)
        yield index_definitions(url)


def send_to(topics: Topics, events: list[LifecycleEvent], partition: int) -> None:
    producer = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all")
    for event in events:
        producer.send(topics.lifecycle, key=event.credential_id.encode(),
                      value=EventCodec().encode(event), partition=partition)
    producer.flush(30)
    producer.close()


def replay_by_two(
    topics: Topics, database_url: str, tmp_path: Path
) -> tuple[dict[str, Any], str]:
    result = run(topics, f"sqlite:///{tmp_path / 'unused.db'}", "replay", "--into",
                 database_url, "--workers", "2", "--no-progress", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert summary["complete"] is True
    return summary, result.stderr


def scratch_left(tmp_path: Path) -> list[str]:
    return [path.name for path in tmp_path.iterdir() if path.name.startswith(SCRATCH_PREFIX)]


def test_two_workers_build_the_live_projections_tables_and_indexes(
    kafka_bootstrap_servers: str, unique_name: str, database_url: str,
    migrated_indexes: dict[str, str], tmp_path: Path,
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=4)
    simulated = list(Simulation(SimulationConfig(credentials=150, seed=23)).events())
    publish(topics, simulated)
    live = f"sqlite:///{tmp_path / 'live.db'}"
    project(topics, live, group=f"g{uuid.uuid4().hex[:8]}", batch_size=200)

    summary, logged = replay_by_two(topics, database_url, tmp_path)

    assert FELL_BACK not in logged
    assert summary["applied"] == len(simulated)
    assert differing(tables(live), tables(database_url)) == {}
    assert index_definitions(database_url) == migrated_indexes
    assert tables(database_url)["bulk_loads"] == []
    assert scratch_left(tmp_path) == []
    verified = run(topics, database_url, "verify-log")
    assert verified.exit_code == 0, verified.stderr + verified.stdout


def test_workers_meeting_one_event_id_in_two_partitions_load_again_in_one_process(
    kafka_bootstrap_servers: str, unique_name: str, database_url: str,
    migrated_indexes: dict[str, str], tmp_path: Path,
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=2)
    simulated = list(Simulation(SimulationConfig(credentials=40, seed=3)).events())
    publish(topics, simulated)
    for partition in (0, 1):
        send_to(topics, [simulated[0]], partition)

    summary, logged = replay_by_two(topics, database_url, tmp_path)

    assert FELL_BACK in logged
    assert summary["applied"] == len(simulated)
    assert summary["duplicatesSkipped"] == 2, "both copies are re-deliveries of the first"
    assert tables(database_url)["bulk_loads"] == []
    assert index_definitions(database_url) == migrated_indexes, (
        "the indexes a failed build made were dropped for the load in one process and every "
        "one is there at the end"
    )
    assert scratch_left(tmp_path) == []


def test_workers_meeting_one_credential_in_two_partitions_load_again_in_one_process(
    kafka_bootstrap_servers: str, unique_name: str, database_url: str, tmp_path: Path,
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=2)
    simulated = list(Simulation(SimulationConfig(credentials=40, seed=5)).events())
    publish(topics, simulated)
    straddling = History("cred-straddling")
    send_to(topics, [straddling.created()], 0)
    send_to(topics, [straddling.used("10.0.0.7")], 1)

    summary, logged = replay_by_two(topics, database_url, tmp_path)

    assert FELL_BACK in logged
    assert summary["applied"] == len(simulated) + 2
    replayed = tables(database_url)
    assert replayed["credentials"]["cred-straddling"]["last_sequence"] == 2, (
        "one state folded from both partitions' events, not one per worker"
    )
    assert len(replayed["credentials"]) == len({event.credential_id for event in simulated}) + 1
    assert len(replayed["audit_log"]) == len(simulated) + 2
    assert replayed["bulk_loads"] == []
    assert scratch_left(tmp_path) == []


def test_no_scratch_directory_beside_a_sqlite_target_loads_in_one_process(
    kafka_bootstrap_servers: str, unique_name: str, sqlite_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=2)
    simulated = list(Simulation(SimulationConfig(credentials=40, seed=9)).events())
    publish(topics, simulated)
    live = f"sqlite:///{tmp_path / 'live.db'}"
    project(topics, live, group=f"g{uuid.uuid4().hex[:8]}", batch_size=200)
    monkeypatch.setattr("projections.bulk.owned.tempfile.mkdtemp", refuse_directories)

    summary, logged = replay_by_two(topics, sqlite_url, tmp_path)

    assert "no scratch directory beside" in logged and "loading in one process" in logged
    assert summary["applied"] == len(simulated)
    assert differing(tables(live), tables(sqlite_url)) == {}
