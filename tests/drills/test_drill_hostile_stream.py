"""Drill 7: a hostile stream never stops or blurs the trail, on SQLite and PostgreSQL at once.

The 50,000-event stream, 100 odd but valid events and at least 1,000 hostile messages
(tests.drills.hostile: oversized values, NUL and escape sequences, ids and events over the
contract's limits, wrong, missing and non-UTF-8 keys, reused event ids, random bytes,
truncated Avro, unknown fingerprints, deep nesting) are published interleaved. One projector
process into SQLite and one into PostgreSQL, each with a dead-letter topic of its own, must
catch up within CATCH_UP_S; then:

- every valid event is applied exactly once, and the projection equals a clean replay;
- every hostile message is in each dead-letter topic exactly once, with its reason, and
  with its original bytes, or, when they could not be copied, their size and SHA-256;
- the SQLite and the PostgreSQL projections hold the same events and states.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from consumer.dead_letter import (
    HEADER_COPY_ERROR,
    HEADER_ERROR,
    HEADER_ORIGINAL_VALUE_BYTES,
    HEADER_ORIGINAL_VALUE_SHA256,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
)
from producer.topics import TopicLayout, ensure_topics
from tests.drills.checks import (
    BackgroundReplay,
    assert_equals_clean_replay,
    describe_difference,
    end_offsets,
    read_dead_letters,
)
from tests.drills.hostile import (
    CODEC,
    KIND_HEADER,
    LARGE_UNCOPYABLE,
    Hostile,
    hostile_messages,
    odd_valid_events,
)
from tests.drills.projector_process import ProjectorProcess
from tests.drills.stream import DrillStream, send_messages
from tests.integration.projector_support import Topics, snapshot

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

HOSTILE = 1_000
ODD_VALID = 100
BATCH_SIZE = 5000
CATCH_UP_S = 300.0
"""The bound on each projector's catch-up (the stream alone takes well under a minute)."""

Message = tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...], Hostile | None]


def _interleave(
    stream: DrillStream, hostile: list[Hostile], odd: list[Any], rng: random.Random
) -> list[Message]:
    """Stream, odd valid events and hostile messages in one order; a message reusing an
    event id comes right after the event it copies."""
    reusing = {message.after: message for message in hostile if message.after is not None}
    loose: list[Message] = [(m.key, m.value, m.headers, m) for m in hostile if m.after is None]
    loose += [(o.key, o.value, (), None) for o in odd]
    rng.shuffle(loose)
    slots = sorted(rng.sample(range(len(stream) + len(loose)), len(loose)))
    ordered: list[Message] = []
    valid, extra = iter(stream.messages), iter(loose)
    taken = 0
    for slot in range(len(stream) + len(loose)):
        if taken < len(slots) and slots[taken] == slot:
            ordered.append(next(extra))
            taken += 1
            continue
        message = next(valid)
        ordered.append((message.key, message.value, message.headers, None))
        copy = reusing.get(_event_id(message.value))
        if copy is not None:
            ordered.append((copy.key, copy.value, copy.headers, copy))
    return ordered


def _event_id(value: bytes) -> str:
    return str(CODEC.decode(value).event_id)


def _publish(bootstrap: str, topic: str, messages: list[Message]) -> list[Any]:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, client_id="drill-hostile", acks="all",
        enable_idempotence=True, compression_type="lz4", linger_ms=5,
        max_request_size=LARGE_UNCOPYABLE + 1024 * 1024,
        max_block_ms=120_000, request_timeout_ms=60_000, delivery_timeout_ms=180_000,
        allow_auto_create_topics=False,
    )
    try:
        return send_messages(producer, topic, ((k, v, h) for k, v, h, _ in messages), 180)
    finally:
        producer.close(timeout=60)


def _check_dead_letters(
    records: list[Any], sent: dict[tuple[int, int], Hostile], topic: str
) -> Counter[str]:
    seen: set[tuple[int, int]] = set()
    kinds: Counter[str] = Counter()
    for record in records:
        headers = dict(record.headers)
        source = (int(headers[HEADER_SOURCE_PARTITION]), int(headers[HEADER_SOURCE_OFFSET]))
        original = sent.get(source)
        assert original is not None, f"{topic}: dead letter for a message not refused: {source}"
        assert source not in seen, f"{topic}: dead-lettered twice: {source}"
        seen.add(source)
        reason = headers[HEADER_ERROR].decode()
        assert original.expected_reason in reason, (original.kind, reason[:300])
        if HEADER_COPY_ERROR in headers:
            assert record.value is None
            assert int(headers[HEADER_ORIGINAL_VALUE_BYTES]) == len(original.value)
            digest = hashlib.sha256(original.value).hexdigest()
            assert headers[HEADER_ORIGINAL_VALUE_SHA256].decode() == digest
            kinds["(digest) " + original.kind] += 1
        else:
            assert (record.key, record.value) == (original.key, original.value)
            assert headers[KIND_HEADER].decode() == original.kind
            kinds[original.kind] += 1
    missing = set(sent) - seen
    assert not missing, f"{topic}: {len(missing)} hostile messages not dead-lettered"
    return kinds


def test_a_hostile_stream_never_stops_or_blurs_the_trail(
    topics: Topics,
    stream: DrillStream,
    drill_name: str,
    drill_sqlite_url: str,
    drill_pg_url: str,
    drill_seed: int,
    tmp_path: Path,
) -> None:
    rng = random.Random(drill_seed)
    hostile = hostile_messages(HOSTILE, stream.messages, rng)
    odd = odd_valid_events(ODD_VALID)
    assert len(hostile) >= HOSTILE
    ordered = _interleave(stream, hostile, odd, rng)
    stored = _publish(topics.bootstrap, topics.lifecycle, ordered)
    sent = {
        (where.partition, where.offset): bad
        for where, (_, _, _, bad) in zip(stored, ordered, strict=True)
        if bad is not None
    }
    valid_ids = set(stream.event_ids) | {o.event_id for o in odd}

    replay = BackgroundReplay(topics, tmp_path)
    projectors = {}
    for kind, url in (("sqlite", drill_sqlite_url), ("postgresql", drill_pg_url)):
        dead_letter = f"{topics.lifecycle}.{kind}-dlq"
        (tmp_path / kind).mkdir()
        ensure_topics(topics.bootstrap, TopicLayout(topics.lifecycle, dead_letter))
        projectors[kind] = (dead_letter, ProjectorProcess.spawn(
            Topics(topics.bootstrap, topics.lifecycle, dead_letter), url,
            f"{drill_name}-{kind}", f"{drill_name}-{kind}", BATCH_SIZE, tmp_path / kind,
            until_caught_up=True,
        ))
    started = time.monotonic()
    try:
        for kind, (_topic, projector) in projectors.items():
            left = max(1.0, CATCH_UP_S - (time.monotonic() - started))
            assert projector.wait(left) == 0, f"{kind}:\n{projector.log_tail()}"
            log.info("%s projector caught up in %.1f s", kind, time.monotonic() - started)
    finally:
        for _topic, projector in projectors.values():
            projector.ensure_stopped()
    caught_up_s = time.monotonic() - started
    assert caught_up_s < CATCH_UP_S

    for kind, (dead_letter, projector) in projectors.items():
        report = projector.report()
        assert report["applied"] == len(valid_ids), (kind, report)
        assert report["deadLettered"] == len(sent), (kind, report)
        assert sum(end_offsets(topics.bootstrap, dead_letter).values()) == len(sent), kind
        records = read_dead_letters(topics.bootstrap, dead_letter, len(sent))
        kinds = _check_dead_letters(records, sent, dead_letter)
        assert kinds["(digest) oversized-70MB"] == 1, kinds
        log.info("%s dead letters by kind: %s", kind, dict(kinds))

    assert_equals_clean_replay(drill_sqlite_url, replay, valid_ids)
    assert_equals_clean_replay(drill_pg_url, replay, valid_ids)
    on_sqlite, on_postgresql = snapshot(drill_sqlite_url), snapshot(drill_pg_url)
    difference = describe_difference("credentials", on_sqlite.credentials,
                                     on_postgresql.credentials)
    difference += describe_difference("audit rows", on_sqlite.audit, on_postgresql.audit)
    assert not difference, "\n".join(difference)
    mapped = [row for row in on_sqlite.audit.values() if row.get("source_ip") == "::ffff:10.1.2.3"]
    assert len(mapped) == ODD_VALID // 4
    log.info(
        "hostile drill: %d valid events, %d hostile messages, both projectors caught up in "
        "%.1f s", len(valid_ids), len(sent), caught_up_s,
    )
