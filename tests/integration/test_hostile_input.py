"""Hostile input on the real broker and both stores: one message never stops the trail.

Each test is one case of the hostile-input issue, checked end to end: what the projector
applies, what reaches the dead-letter topic (once, with its reason), and that the partition
moves on. The full mix at volume is the hostile-stream drill (tests/drills).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumer.dead_letter import (
    HEADER_COPY_ERROR,
    HEADER_ERROR,
    HEADER_ERROR_KIND,
    HEADER_ORIGINAL_VALUE_BYTES,
    HEADER_ORIGINAL_VALUE_SHA256,
    HEADER_SOURCE_OFFSET,
)
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log
from schemas.codec import EventCodec
from schemas.models import CredentialCreated
from tests.builders import build_created, build_used, created_record
from tests.drills.hostile import encode_unchecked
from tests.integration.projector_support import Topics, make_topics, project, snapshot

pytestmark = pytest.mark.integration

CODEC = EventCodec()


@pytest.fixture
def topics(kafka_bootstrap_servers: str, unique_name: str) -> Topics:
    return make_topics(kafka_bootstrap_servers, unique_name, partitions=1)


def send(topics: Topics, messages: Sequence[tuple[bytes | None, bytes | None]]) -> list[int]:
    """Send (key, value) pairs lz4-compressed, as a hostile upstream could; their offsets."""
    producer = KafkaProducer(
        bootstrap_servers=topics.bootstrap, acks="all", compression_type="lz4",
        max_request_size=80 * 1024 * 1024, allow_auto_create_topics=False,
    )
    try:
        futures = [producer.send(topics.lifecycle, key=k, value=v) for k, v in messages]
        producer.flush(60)
        return [future.get(60).offset for future in futures]
    finally:
        producer.close(30)


def dead_letters(topics: Topics, expected: int) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=topics.bootstrap, client_id="test-hostile-dlq",
        max_partition_fetch_bytes=64 * 1024 * 1024, fetch_max_bytes=128 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(topics.dead_letter, p)
                      for p in consumer.partitions_for_topic(topics.dead_letter)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[Any] = []
        for _ in range(40):
            found += [r for batch in consumer.poll(timeout_ms=250).values() for r in batch]
            if len(found) >= expected:
                for _ in range(4):
                    found += [r for b in consumer.poll(timeout_ms=250).values() for r in b]
                break
        return found
    finally:
        consumer.close()


def created(credential_id: str, **fields: Any) -> bytes:
    return CODEC.encode(build_created(credential_id=credential_id, **fields))


def test_an_oversized_value_neither_halts_the_partition_nor_is_dead_lettered_twice(
    topics: Topics, database_url: str, unique_name: str
) -> None:
    """5 MB of compressible bytes: taken by the topic, copied whole to the dead letters; 70 MB:
    a digest dead letter; the valid events before and after are applied."""
    huge, huger = b"\x00" * (5 * 1024 * 1024), b"\x00" * (70 * 1024 * 1024)
    offsets = send(topics, [
        (b"cred-a", created("cred-a")), (b"cred-x", huge), (b"cred-y", b"\x01garbage"),
        (b"cred-z", huger), (b"cred-b", created("cred-b")),
    ])
    report = project(topics, database_url, group=unique_name)
    assert (report.applied, report.dead_lettered) == (2, 3)
    again = project(topics, database_url, group=unique_name)
    assert (again.applied, again.dead_lettered) == (0, 0)
    records = dead_letters(topics, 3)
    by_offset = {int(dict(r.headers)[HEADER_SOURCE_OFFSET]): r for r in records}
    assert sorted(by_offset) == offsets[1:4] and len(records) == 3
    assert by_offset[offsets[1]].value == huge
    digest = dict(by_offset[offsets[3]].headers)
    assert by_offset[offsets[3]].value is None
    assert int(digest[HEADER_ORIGINAL_VALUE_BYTES]) == len(huger)
    assert digest[HEADER_ORIGINAL_VALUE_SHA256].decode() == hashlib.sha256(huger).hexdigest()
    assert b"could not be copied" in digest[HEADER_COPY_ERROR]
    assert b"larger than the contract" in digest[HEADER_ERROR]
    assert set(snapshot(database_url).credentials) == {"cred-a", "cred-b"}


def test_nul_and_escape_sequences_are_refused_the_same_on_both_stores(
    topics: Topics, database_url: str, unique_name: str
) -> None:
    record = created_record(credential_id="cred-nul")
    record["credential"]["displayName"] = "evil\x00name"
    escape = created_record(credential_id="cred-esc")
    escape["credential"]["displayName"] = "\x1b[2J\x1b[31mred"
    send(topics, [
        (b"cred-nul", encode_unchecked(CredentialCreated, record)),
        (b"cred-esc", encode_unchecked(CredentialCreated, escape)),
        (b"cred-ok", created("cred-ok", display_name="=HYPERLINK(\"http://evil\")")),
    ])
    report = project(topics, database_url, group=unique_name)
    assert (report.applied, report.dead_lettered) == (1, 2)
    reasons = {r.key: dict(r.headers)[HEADER_ERROR].decode() for r in dead_letters(topics, 2)}
    assert "credential.displayName: must not contain" in reasons[b"cred-nul"]
    assert "U+0000 at index 4" in reasons[b"cred-nul"]
    assert "U+001B at index 0" in reasons[b"cred-esc"]
    assert set(snapshot(database_url).credentials) == {"cred-ok"}


def test_a_key_that_is_not_utf8_does_not_match_a_replacement_character_id(
    topics: Topics, database_url: str, unique_name: str
) -> None:
    event = build_used(credential_id="\ufffd\ufffd", sequence=1)
    send(topics, [(b"\xff\xfe", CODEC.encode(event)), (None, created("cred-x"))])
    report = project(topics, database_url, group=unique_name)
    assert (report.applied, report.dead_lettered) == (0, 2)
    reasons = sorted(dict(r.headers)[HEADER_ERROR].decode() for r in dead_letters(topics, 2))
    assert "message has no key" in reasons[0]
    assert "message key is not UTF-8" in reasons[1]


def test_a_reused_event_id_with_other_content_is_dead_lettered_not_hidden(
    topics: Topics, database_url: str, unique_name: str
) -> None:
    original = build_created(credential_id="cred-a", event_id=uuid.UUID(int=7))
    forged = build_created(credential_id="cred-a", event_id=uuid.UUID(int=7),
                           display_name="forged")
    send(topics, [(b"cred-a", CODEC.encode(original)), (b"cred-a", CODEC.encode(original)),
                  (b"cred-a", CODEC.encode(forged))])
    report = project(topics, database_url, group=unique_name, batch_size=2)
    assert (report.applied, report.duplicates, report.dead_lettered) == (1, 1, 1)
    (record,) = dead_letters(topics, 1)
    headers = dict(record.headers)
    assert headers[HEADER_ERROR_KIND] == b"ConflictingEventId"
    assert b"already recorded with other content" in headers[HEADER_ERROR]
    assert record.value == CODEC.encode(forged)
    assert snapshot(database_url).credentials["cred-a"]["display_name"] == "CI deploy key"


REFUSE_ON_SQLITE = """
CREATE TRIGGER refuse_poisoned BEFORE INSERT ON audit_log
WHEN NEW.credential_id = 'cred-poisoned'
BEGIN SELECT RAISE(ABORT, 'this store refuses cred-poisoned'); END
"""
REFUSE_ON_POSTGRESQL = (
    "ALTER TABLE audit_log ADD CONSTRAINT refuse_poisoned "
    "CHECK (credential_id <> 'cred-poisoned') NOT VALID"
)


def test_an_event_the_store_refuses_is_isolated_and_the_rest_of_its_batch_applied_once(
    topics: Topics, database_url: str, unique_name: str
) -> None:
    """A store that refuses one event's content (here a constraint the test adds) makes the
    projector split the batch: that event is dead-lettered with the store's reason, the
    events around it are applied once, and the position moves past it."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    with engine.begin() as connection:
        refusal = REFUSE_ON_SQLITE if engine.dialect.name == "sqlite" else REFUSE_ON_POSTGRESQL
        connection.exec_driver_sql(refusal)
    engine.dispose()
    messages = [(f"cred-{n}".encode(), created(f"cred-{n}")) for n in range(30)]
    messages.insert(17, (b"cred-poisoned", created("cred-poisoned")))
    offsets = send(topics, messages)
    report = project(topics, database_url, group=unique_name, batch_size=1000)
    assert (report.applied, report.dead_lettered, report.refused_by_store) == (30, 1, 1)
    (record,) = dead_letters(topics, 1)
    headers = dict(record.headers)
    assert headers[HEADER_ERROR_KIND] == b"StoreRefusal"
    assert b"the projection store refused the event" in headers[HEADER_ERROR]
    assert int(headers[HEADER_SOURCE_OFFSET]) == offsets[17]
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            ids = connection.execute(sa.select(audit_log.c.credential_id)).scalars().all()
    finally:
        engine.dispose()
    assert sorted(ids) == sorted(f"cred-{n}" for n in range(30))
    again = project(topics, database_url, group=unique_name)
    assert (again.applied, again.dead_lettered) == (0, 0)
