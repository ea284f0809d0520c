"""The producer against a real Apache Kafka broker: topic setup, delivery, order, headers.

Messages are read back with a plain KafkaConsumer and decoded the way a downstream consumer in
another language would: only the .avsc files and the documented wire format (C3 01, 8-byte
little-endian CRC-64-AVRO fingerprint, Avro body) -- not schemas.codec.
"""

from __future__ import annotations

import io
import json
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from producer.errors import BrokerUnavailableError, ProducerError, PublishError
from producer.publisher import EventPublisher
from producer.simulate import Simulation, SimulationConfig
from producer.topics import DEFAULT_PARTITIONS, TopicLayout, ensure_topics
from schemas.models import EventType, LifecycleEvent
from tests.builders import build_roles_scoped, build_used, history

pytestmark = pytest.mark.integration

AVSC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
CONTENT_TYPE = "application/avro; encoding=single-object"


# --- a downstream consumer's decoder: .avsc files + the wire format, nothing else ------------


@dataclass(frozen=True)
class Writer:
    name: str
    schema: Any


def _schemas_from_avsc_files() -> dict[bytes, Writer]:
    """Writer schemas by fingerprint: every event record's .avsc file, with the named types it
    refers to resolved from their own <full name>.avsc files beside it."""
    writers = {}
    for path in sorted(AVSC_DIR.glob("*.avsc")):
        if json.loads(path.read_text(encoding="utf-8"))["fields"][0]["name"] != "envelope":
            continue  # Envelope and PersonalClient are parts, not messages
        schema = load_schema(str(path))
        digest = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
        writers[digest] = Writer(path.name.removesuffix(".avsc"), schema)
    assert len(writers) == len(EventType)
    return writers


WRITERS = _schemas_from_avsc_files()


def decode_value(value: bytes) -> tuple[Writer, dict[str, Any]]:
    assert value[:2] == b"\xc3\x01", f"no single-object marker: {value[:2].hex()}"
    writer = WRITERS[value[2:10]]
    body = io.BytesIO(value[10:])
    record = fastavro.schemaless_reader(body, writer.schema, None)
    assert body.tell() == len(value) - 10, "trailing bytes after the record"
    assert isinstance(record, dict)
    return writer, record


# --- Kafka helpers ---------------------------------------------------------------------------


def consume_all(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every message on every partition of ``topic``, read with a plain consumer."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="client-audit-test-reader",
    )
    try:
        partition_ids = consumer.partitions_for_topic(topic)
        assert partition_ids, f"topic {topic} has no partitions"
        partitions = [TopicPartition(topic, partition) for partition in sorted(partition_ids)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        messages: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, "timed out reading the topic back"
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


@pytest.fixture
def admin(kafka_bootstrap_servers: str) -> Iterator[Any]:
    client = KafkaAdminClient(
        bootstrap_servers=kafka_bootstrap_servers, client_id="client-audit-test"
    )
    yield client
    client.close()


@pytest.fixture
def layout(unique_name: str, kafka_bootstrap_servers: str) -> Iterator[TopicLayout]:
    """A fresh pair of topic names for this test; the topics are deleted afterwards."""
    names = TopicLayout(lifecycle=f"{unique_name}.lifecycle", dead_letter=f"{unique_name}.dlq")
    yield names
    cleanup = KafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    try:
        existing = set(cleanup.list_topics())
        doomed = [name for name in (names.lifecycle, names.dead_letter) if name in existing]
        if doomed:
            cleanup.delete_topics(doomed)
    finally:
        cleanup.close()


def closed_port_address() -> str:
    """127.0.0.1:<a port nothing listens on>."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


# --- topics ----------------------------------------------------------------------------------


def test_ensure_topics_creates_both_topics_with_the_contract_settings(
    kafka_bootstrap_servers: str, layout: TopicLayout, admin: Any
) -> None:
    names = [layout.lifecycle, layout.dead_letter]
    assert not set(names) & set(admin.list_topics())

    created = ensure_topics(kafka_bootstrap_servers, layout)

    assert sorted(created) == sorted(names)
    described = {topic["name"]: topic for topic in admin.describe_topics(names)}
    for name in names:
        assert described[name]["error_code"] == 0
        assert len(described[name]["partitions"]) == DEFAULT_PARTITIONS == 6
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )["topic"]
    for name in names:
        assert configs[name]["retention.ms"]["value"] == "-1"
        assert configs[name]["retention.bytes"]["value"] == "-1"
        assert configs[name]["cleanup.policy"]["value"] == "delete"


def test_ensure_topics_is_idempotent(
    kafka_bootstrap_servers: str, layout: TopicLayout, admin: Any
) -> None:
    assert len(ensure_topics(kafka_bootstrap_servers, layout)) == 2
    ids_before = {t["name"]: t["topic_id"] for t in admin.describe_topics([layout.lifecycle])}

    assert ensure_topics(kafka_bootstrap_servers, layout) == []
    assert ensure_topics(kafka_bootstrap_servers, layout) == []

    ids_after = {t["name"]: t["topic_id"] for t in admin.describe_topics([layout.lifecycle])}
    assert ids_after == ids_before, "the topic was recreated"
    topics = admin.describe_topics([layout.lifecycle, layout.dead_letter])
    assert [len(topic["partitions"]) for topic in topics] == [6, 6]


def test_ensure_topics_creates_only_the_missing_one(
    kafka_bootstrap_servers: str, layout: TopicLayout, admin: Any
) -> None:
    admin.create_topics(
        {layout.lifecycle: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True
    )
    assert ensure_topics(kafka_bootstrap_servers, layout) == [layout.dead_letter]
    partitions = {
        t["name"]: len(t["partitions"])
        for t in admin.describe_topics([layout.lifecycle, layout.dead_letter])
    }
    assert partitions == {layout.lifecycle: 2, layout.dead_letter: 6}


def test_ensure_topics_against_a_stopped_broker_fails_in_bounded_time() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError):
        ensure_topics(
            closed_port_address(), TopicLayout(lifecycle="x", dead_letter="y"), timeout_s=3
        )
    assert time.monotonic() - started < 15


# --- publishing ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> tuple[list[LifecycleEvent], Simulation]:
    simulation = Simulation(SimulationConfig(credentials=300, events_per_credential=8, seed=11))
    return list(simulation.events()), simulation


@pytest.fixture
def published(
    kafka_bootstrap_servers: str,
    layout: TopicLayout,
    simulated: tuple[list[LifecycleEvent], Simulation],
) -> tuple[list[LifecycleEvent], list[Any]]:
    """The simulated stream published (in chunks, like the CLI) and read back."""
    events, _ = simulated
    ensure_topics(kafka_bootstrap_servers, layout)
    with EventPublisher(kafka_bootstrap_servers, layout.lifecycle, timeout_s=30) as publisher:
        total = sum(
            publisher.publish_many(events[start : start + 700])
            for start in range(0, len(events), 700)
        )
    assert total == len(events)
    return events, consume_all(kafka_bootstrap_servers, layout.lifecycle)


def test_simulation_is_big_enough_to_mean_something(
    simulated: tuple[list[LifecycleEvent], Simulation],
) -> None:
    events, simulation = simulated
    assert len({event.credential_id for event in events}) == 300
    assert len(events) > 1500
    assert {event.event_type for event in events} == set(EventType)
    assert simulation.summary.events == len(events)


def test_every_event_arrives_exactly_once_and_decodes_from_the_avsc_files(
    published: tuple[list[LifecycleEvent], list[Any]],
) -> None:
    events, messages = published
    assert len(messages) == len(events)
    by_id = {str(event.event_id): event for event in events}
    assert len(by_id) == len(events), "the simulation produced duplicate event ids"
    seen: set[str] = set()
    for message in messages:
        writer, record = decode_value(message.value)
        event_id = str(record["envelope"]["eventId"])
        assert event_id not in seen, f"event {event_id} delivered twice"
        seen.add(event_id)
        event = by_id[event_id]
        assert writer.name == event.schema_name
        assert record == event.to_record()
        assert message.key == event.credential_id.encode("utf-8")
    assert seen == set(by_id)


def test_each_credential_stays_on_one_partition_in_sequence_order(
    published: tuple[list[LifecycleEvent], list[Any]],
) -> None:
    events, messages = published
    expected_counts: dict[str, int] = defaultdict(int)
    for event in events:
        expected_counts[event.credential_id] += 1

    partitions: dict[str, set[int]] = defaultdict(set)
    placed: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for message in messages:
        _, record = decode_value(message.value)
        credential = record["envelope"]["credentialId"]
        partitions[credential].add(message.partition)
        placed[credential].append((message.offset, record["envelope"]["sequence"]))

    assert set(placed) == set(expected_counts)
    for credential, offsets_and_sequences in placed.items():
        assert len(partitions[credential]) == 1, (
            f"{credential} spread over {partitions[credential]}"
        )
        sequences = [sequence for _, sequence in sorted(offsets_and_sequences)]
        assert sequences == list(range(1, expected_counts[credential] + 1)), credential
    used_partitions = {partition for found in partitions.values() for partition in found}
    assert used_partitions == set(range(6)), "300 keys should land on every partition"


def test_headers_are_present_and_agree_with_the_value(
    published: tuple[list[LifecycleEvent], list[Any]],
) -> None:
    _, messages = published
    for message in messages:
        headers = dict(message.headers)
        assert set(headers) >= {"event-type", "schema-fingerprint", "schema-name", "content-type"}
        assert len(message.headers) == len(headers), "a header is repeated"
        writer, record = decode_value(message.value)
        assert headers["event-type"].decode() == record["envelope"]["eventType"]
        assert headers["schema-fingerprint"].decode() == message.value[2:10].hex()
        assert headers["schema-name"].decode() == writer.name
        assert headers["content-type"].decode() == CONTENT_TYPE


def test_publish_returns_only_once_the_broker_has_the_event(
    kafka_bootstrap_servers: str, layout: TopicLayout
) -> None:
    ensure_topics(kafka_bootstrap_servers, layout)
    events = [build_used(credential_id=f"cred-confirmed-{index}") for index in range(20)]
    partitions = [TopicPartition(layout.lifecycle, partition) for partition in range(6)]
    watcher = KafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=None)
    try:
        assert sum(watcher.end_offsets(partitions).values()) == 0
        # a long linger: were the call not waiting for the broker, the events would still be
        # sitting in the client's buffer when it returns
        with EventPublisher(
            kafka_bootstrap_servers, layout.lifecycle, timeout_s=15, linger_ms=3000
        ) as publisher:
            publisher.publish(events[0])
            assert sum(watcher.end_offsets(partitions).values()) == 1
            publisher.publish_many(events[1:])
            assert sum(watcher.end_offsets(partitions).values()) == 20
    finally:
        watcher.close()
    messages = consume_all(kafka_bootstrap_servers, layout.lifecycle, timeout_s=15)
    assert sorted(decode_value(m.value)[1]["envelope"]["credentialId"] for m in messages) == sorted(
        event.credential_id for event in events
    )


def test_an_event_the_broker_refuses_raises_publish_error(
    kafka_bootstrap_servers: str, layout: TopicLayout, admin: Any
) -> None:
    admin.create_topics(
        {
            layout.lifecycle: {
                "num_partitions": 1,
                "replication_factor": 1,
                "configs": {"max.message.bytes": "2048"},
            }
        },
        wait_for_metadata=True,
    )
    # incompressible roles, so the message is far above the topic's limit even with lz4
    roles = [uuid.uuid5(uuid.NAMESPACE_OID, str(index)).hex for index in range(5000)]
    huge = build_roles_scoped(credential_id="cred-huge", scoped_roles=roles)
    started = time.monotonic()
    with (
        pytest.raises(PublishError) as info,
        EventPublisher(kafka_bootstrap_servers, layout.lifecycle, timeout_s=10) as publisher,
    ):
        publisher.publish_many([huge])
    assert time.monotonic() - started < 20
    assert (info.value.failed, info.value.total) == (1, 1)
    assert layout.lifecycle in str(info.value)
    assert consume_all(kafka_bootstrap_servers, layout.lifecycle) == []


def test_publish_many_keeps_order_of_one_credential_within_a_call(
    kafka_bootstrap_servers: str, layout: TopicLayout
) -> None:
    ensure_topics(kafka_bootstrap_servers, layout)
    events = list(history("cred-ordered", 200))
    with EventPublisher(kafka_bootstrap_servers, layout.lifecycle, timeout_s=30) as publisher:
        assert publisher.publish_many(events) == 200
    messages = consume_all(kafka_bootstrap_servers, layout.lifecycle)
    assert len({message.partition for message in messages}) == 1
    sequences = [
        decode_value(m.value)[1]["envelope"]["sequence"]
        for m in sorted(messages, key=lambda m: m.offset)
    ]
    assert sequences == list(range(1, 201))


def test_publish_many_of_nothing_publishes_nothing(
    kafka_bootstrap_servers: str, layout: TopicLayout
) -> None:
    ensure_topics(kafka_bootstrap_servers, layout)
    with EventPublisher(kafka_bootstrap_servers, layout.lifecycle, timeout_s=10) as publisher:
        assert publisher.publish_many([]) == 0
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=None)
    try:
        partitions = [TopicPartition(layout.lifecycle, p) for p in range(6)]
        assert sum(consumer.end_offsets(partitions).values()) == 0
    finally:
        consumer.close()


# --- failures --------------------------------------------------------------------------------


def test_publishing_to_a_stopped_broker_fails_within_bounded_time() -> None:
    started = time.monotonic()
    with (
        pytest.raises((BrokerUnavailableError, PublishError)) as info,
        EventPublisher(closed_port_address(), "nowhere", timeout_s=5) as publisher,
    ):
        publisher.publish(build_used())
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert isinstance(info.value, ProducerError)
    assert str(info.value)


def test_publishing_to_a_missing_topic_fails_and_does_not_create_it(
    kafka_bootstrap_servers: str, unique_name: str, admin: Any
) -> None:
    topic = f"{unique_name}.never-created"
    started = time.monotonic()
    with (
        pytest.raises(ProducerError),
        EventPublisher(kafka_bootstrap_servers, topic, timeout_s=5) as publisher,
    ):
        publisher.publish(build_used())
    assert time.monotonic() - started < 15
    assert topic not in admin.list_topics()
