"""Undecodable and invalid messages go to the dead-letter topic; valid ones around them apply."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastavro import schemaless_writer
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import generate_latest

from consumer.dead_letter import DeadLetterWriter
from consumer.metrics import ProjectorMetrics
from consumer.projector import Projector
from producer.simulate import Simulation, SimulationConfig
from producer.topics import TopicLayout, ensure_topics
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.write.store import ProjectionStore
from schemas.codec import EventCodec
from schemas.registry import default_registry
from schemas.wire import MARKER
from tests.builders import used_record
from tests.integration.projector_support import (
    Topics,
    make_topics,
    project,
    publish,
    snapshot,
)

pytestmark = pytest.mark.integration

BAD_TAG = "test-bad-id"


def _bad_messages(codec: EventCodec, valid_value: bytes) -> Iterator[tuple[bytes | None, bytes]]:
    """(value, tag) of every kind of message the projector must refuse."""
    random = os.urandom
    for index in range(40):
        yield random(1 + index * 7), b"random-bytes"
    for cut in (1, 5, 9, 10, 11, len(valid_value) // 2, len(valid_value) - 1):
        yield valid_value[:cut], b"truncated"
    yield MARKER + bytes.fromhex("0123456789abcdef") + valid_value[10:], b"unknown-fingerprint"
    yield b"", b"empty"
    yield None, b"tombstone"
    writer = default_registry().current("clientaudit.events.CredentialUsed")
    for field, value in (("sourceIp", "not-an-ip"), ("denialReason", "EXPIRED")):
        record = used_record(credential_id="cred-bad")
        record[field] = value
        buffer = io.BytesIO()
        buffer.write(MARKER + writer.fingerprint)
        schemaless_writer(buffer, writer.schema, record)
        yield buffer.getvalue(), f"invalid-{field}".encode()


def _send_raw(topics: Topics, messages: list[tuple[bytes, bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all")
    for key, value, tag in messages:
        producer.send(topics.lifecycle, key=key, value=value, headers=[(BAD_TAG, tag)])
    producer.flush(30)
    producer.close()


def _read_all(bootstrap: str, topic: str, expected: int) -> list[object]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    records: list[Any] = []
    deadline = time.monotonic() + 60
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
    consumer.close()
    return records


def test_a_flood_of_bad_messages_lands_in_the_dead_letter_topic(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=3)
    codec = EventCodec()
    simulation = Simulation(SimulationConfig(credentials=60, seed=5))
    events = list(simulation.events())
    half = len(events) // 2
    valid_value = codec.encode(events[0])
    bad = [(b"cred-bad", value, tag) for value, tag in _bad_messages(codec, valid_value)]
    bad.append((b"someone-else", valid_value, b"key-mismatch"))

    publish(topics, events[:half])
    _send_raw(topics, bad)
    publish(topics, events[half:])
    report = project(topics, database_url, group=unique_name, batch_size=50)

    assert report.applied == len(events)
    assert report.dead_lettered == len(bad)
    assert snapshot(database_url).audit_rows == len(events)
    dead = _read_all(kafka_bootstrap_servers, topics.dead_letter, len(bad))
    assert len(dead) == len(bad)
    sent = {(value, tag) for _, value, tag in bad}
    received = set()
    for record in dead:
        headers = dict(record.headers)  # type: ignore[attr-defined]
        assert headers["dlq-error"], headers
        assert headers["dlq-source-topic"].decode() == topics.lifecycle
        assert int(headers["dlq-source-offset"]) >= 0
        assert headers["dlq-error-kind"] in (b"DecodeError", b"InvalidEventError")
        received.add((record.value, headers[BAD_TAG]))  # type: ignore[attr-defined]
    assert received == sent
    reasons = {dict(r.headers)[BAD_TAG]: dict(r.headers)["dlq-error"] for r in dead}  # type: ignore[attr-defined]
    assert b"sourceIp" in reasons[b"invalid-sourceIp"]
    assert b"denialReason" in reasons[b"invalid-denialReason"]
    assert b"fingerprint" in reasons[b"unknown-fingerprint"]
    assert b"credentialId" in reasons[b"key-mismatch"]


def test_a_failing_dead_letter_write_commits_nothing_until_it_succeeds(
    kafka_bootstrap_servers: str, sqlite_url: str, unique_name: str
) -> None:
    topics = Topics(kafka_bootstrap_servers, f"{unique_name}.lifecycle", f"{unique_name}.dlq")
    ensure_topics(kafka_bootstrap_servers, TopicLayout(topics.lifecycle, f"{unique_name}.other", 1))
    events = list(Simulation(SimulationConfig(credentials=5, seed=3)).events())
    publish(topics, events[:10])
    _send_raw(topics, [(b"cred-bad", b"garbage", b"random-bytes")])
    publish(topics, events[10:])
    upgrade(sqlite_url)
    engine = create_engine_for(sqlite_url)
    store = ProjectionStore(engine)
    metrics = ProjectorMetrics()
    config = topics.projector_config(unique_name, batch_size=5, until_caught_up=True)
    writer = DeadLetterWriter(kafka_bootstrap_servers, topics.dead_letter, timeout_s=1)
    projector = Projector(config, store, writer, metrics)
    runner = threading.Thread(target=projector.run, daemon=True)
    runner.start()
    time.sleep(6)
    stuck_at = store.positions(topics.lifecycle)
    assert stuck_at == {0: 10}, "the batch holding the bad message must not be committed"
    assert runner.is_alive()

    ensure_topics(kafka_bootstrap_servers, TopicLayout(topics.lifecycle, topics.dead_letter, 1))
    runner.join(timeout=90)
    assert not runner.is_alive()
    assert store.positions(topics.lifecycle) == {0: len(events) + 1}
    assert projector.report.applied == len(events)
    assert projector.report.dead_lettered == 1
    exposition = generate_latest(metrics.registry).decode()
    assert f"client_audit_events_applied_total {float(len(events))}" in exposition
    assert "client_audit_events_dead_lettered_total 1.0" in exposition
    writer.close()
    engine.dispose()
