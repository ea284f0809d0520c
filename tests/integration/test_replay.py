"""client-audit replay on real Kafka, SQLite and PostgreSQL: same projections, right offsets."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from consumer.replay import plan_replay
from projections.db.engine import create_engine_for
from projections.db.tables import audit_log
from projections.forensics.compare import compare
from schemas.models import LifecycleEvent
from tests.builders_projection import History
from tests.integration.forensics_support import run
from tests.integration.projector_support import (
    Topics,
    make_topics,
    project,
    publish,
    publish_simulation,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long_stream(kafka_bootstrap_servers: str) -> Topics:
    """2,000 simulated credentials (about 20,000 events), published once for the module."""
    topics = make_topics(kafka_bootstrap_servers, f"t{uuid.uuid4().hex[:10]}")
    publish_simulation(topics, 2000, seed=23)
    return topics


def groups(bootstrap: str, group: str) -> tuple[set[str], dict[int, int]]:
    """Every consumer group, and the offsets ``group`` committed per partition."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group)
        return (
            {listed["group_id"] for listed in admin.list_groups()},
            {tp.partition: offset.offset for tp, offset in committed[group].items()},
        )
    finally:
        admin.close()


def groups_reading(topics: Topics, candidates: set[str]) -> set[str]:
    """Those of ``candidates`` that committed offsets on the lifecycle topic."""
    admin = KafkaAdminClient(bootstrap_servers=topics.bootstrap)
    try:
        return {
            group
            for group in candidates
            if any(tp.topic == topics.lifecycle for tp in admin.list_group_offsets(group)[group])
        }
    finally:
        admin.close()


def event_ids(database_url: str) -> set[str]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(sa.select(audit_log.c.event_id)))
    finally:
        engine.dispose()


@pytest.fixture
def other_database(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path, postgres_test_url: str
) -> str:
    """An empty database of the other kind than ``database_url`` (so PostgreSQL either way)."""
    if database_url.startswith("sqlite"):
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'replay.db'}"


def test_replay_of_a_long_stream_equals_the_live_projection(
    long_stream: Topics, database_url: str, other_database: str, unique_name: str
) -> None:
    live = project(long_stream, database_url, group=unique_name, batch_size=1000)
    assert live.applied >= 15_000
    before = groups(long_stream.bootstrap, unique_name)
    assert sum(before[1].values()) == live.applied

    result = run(
        long_stream,
        database_url,
        "replay",
        "--into",
        other_database,
        "--no-progress",
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert summary["complete"] is True
    assert summary["applied"] == live.applied
    assert summary["refused"] == 0
    after = groups(long_stream.bootstrap, unique_name)
    assert after[1] == before[1], "the projector group's offsets did not move"
    assert not groups_reading(long_stream, after[0] - before[0]), "no group read the topic"
    left, right = create_engine_for(database_url), create_engine_for(other_database)
    try:
        with left.connect() as live_connection, right.connect() as replay_connection:
            comparison = compare(live_connection, replay_connection)
    finally:
        left.dispose()
        right.dispose()
    assert comparison.differences == [], "same rows, anomalies, states and chain hashes"
    assert comparison.audit_rows_compared == live.applied
    assert comparison.credentials_compared == 2000
    assert (comparison.audit_rows_skipped, comparison.credentials_skipped) == (0, 0)


@pytest.fixture
def split_stream(
    kafka_bootstrap_servers: str, unique_name: str
) -> Iterator[tuple[Topics, datetime, list[LifecycleEvent], list[LifecycleEvent]]]:
    """Events published before an instant, and events published after it."""
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    first, second, third = History("cred-1"), History("cred-2"), History("cred-3")
    before: list[LifecycleEvent] = [
        first.created(),
        second.created(),
        first.used("10.0.0.1"),
        second.roles_scoped("admin"),
    ]
    after: list[LifecycleEvent] = [
        first.used("10.0.0.2"),
        third.created(),
        third.used("10.0.0.3"),
        second.deleted(),
        first.roles_scoped("admin"),
    ]
    publish(topics, before)
    time.sleep(0.05)  # Kafka timestamps have millisecond resolution: keep the sides apart
    instant = datetime.now(UTC)
    time.sleep(0.05)
    publish(topics, after)
    yield topics, instant, before, after


def offsets_for(bootstrap: str, topic: str, instant: datetime) -> dict[int, int]:
    """What Kafka answers for the first offsets at or after ``instant``, end offset if none."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        found = consumer.offsets_for_times(
            {tp: int(instant.timestamp() * 1000) for tp in partitions}
        )
        ends = consumer.end_offsets(partitions)
        return {
            tp.partition: ends[tp] if found[tp] is None else found[tp].offset for tp in partitions
        }
    finally:
        consumer.close()


def test_replay_from_an_instant_starts_at_the_offsets_kafka_gives_for_it(
    split_stream: tuple[Topics, datetime, list[LifecycleEvent], list[LifecycleEvent]],
    tmp_path: Path,
) -> None:
    topics, instant, before, after = split_stream
    expected = offsets_for(topics.bootstrap, topics.lifecycle, instant)
    assert plan_replay(topics.bootstrap, topics.lifecycle, instant).start_offsets == expected
    assert sum(expected.values()) == len(before), "the earlier events lie before the start"
    target = f"sqlite:///{tmp_path / 'since.db'}"

    result = run(
        topics,
        f"sqlite:///{tmp_path / 'live.db'}",
        "replay",
        "--into",
        target,
        "--from",
        instant.isoformat(),
        "--no-progress",
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.stderr
    (summary,) = json.loads(result.stdout)
    assert {int(p): offset for p, offset in summary["startOffsets"].items()} == expected
    assert summary["applied"] == len(after)
    assert event_ids(target) == {str(event.event_id) for event in after}


def test_replay_refuses_a_non_empty_target_unless_resuming(
    split_stream: tuple[Topics, datetime, list[LifecycleEvent], list[LifecycleEvent]],
    database_url: str,
    tmp_path: Path,
) -> None:
    topics, _instant, before, after = split_stream
    live = f"sqlite:///{tmp_path / 'live.db'}"
    assert run(topics, live, "replay", "--into", database_url, "--no-progress").exit_code == 0

    again = run(topics, live, "replay", "--into", database_url, "--no-progress")
    assert again.exit_code == 1
    assert "already holds projections" in again.stderr
    assert "--resume" in again.stderr

    late = History("cred-9")
    publish(topics, [late.created()])
    resumed = run(
        topics,
        live,
        "replay",
        "--into",
        database_url,
        "--resume",
        "--no-progress",
        "--format",
        "json",
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)[0]["applied"] == 1
    assert len(event_ids(database_url)) == len(before) + len(after) + 1


def test_replay_refuses_bad_input_with_a_clear_message(
    split_stream: tuple[Topics, datetime, list[LifecycleEvent], list[LifecycleEvent]],
    tmp_path: Path,
) -> None:
    topics = split_stream[0]
    live = f"sqlite:///{tmp_path / 'live.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    cases = [
        (("replay", "--into", live), 2, "is the live projection database"),
        (("replay", "--into", "not a url"), 2, "is not a database URL"),
        (("replay", "--into", target, "--from", "2026-03-03T10:00:00"), 2, "no UTC offset"),
        (("replay", "--into", target, "--from", "last tuesday"), 2, "not an ISO-8601 instant"),
        (("replay",), 2, "Missing option '--into'"),
    ]
    for arguments, code, message in cases:
        result = run(topics, live, *arguments)
        assert (result.exit_code, message in result.stderr) == (code, True), result.stderr
        assert "Traceback" not in result.stderr
    missing = Topics(topics.bootstrap, f"{topics.lifecycle}.absent", topics.dead_letter)
    result = run(missing, live, "replay", "--into", target, "--no-progress")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_replay_help_says_what_it_does(
    split_stream: tuple[Topics, datetime, list[LifecycleEvent], list[LifecycleEvent]],
) -> None:
    result = run(split_stream[0], "sqlite://", "replay", "--help")
    assert result.exit_code == 0
    assert "Rebuild the current-state table and audit log" in result.stdout
