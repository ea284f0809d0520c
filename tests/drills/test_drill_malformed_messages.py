"""Drill 5: 10,000 malformed messages interleaved with the stream all reach the dead letters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from consumer.dead_letter import (
    HEADER_ERROR,
    HEADER_ERROR_KIND,
    HEADER_REFUSED_AT,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
)
from tests.drills.checks import (
    BackgroundReplay,
    assert_equals_clean_replay,
    end_offsets,
    read_dead_letters,
)
from tests.drills.malformed import INVALID_VALUES, KIND_HEADER, MalformedMessage, malformed_messages
from tests.drills.projector_process import ProjectorProcess
from tests.drills.stream import DrillStream, open_producer, send_messages
from tests.integration.projector_support import Topics

pytestmark = pytest.mark.drill

MALFORMED = 10_000
BATCH_SIZE = 5000


def _interleave(
    stream: DrillStream, malformed: list[MalformedMessage], rng: random.Random
) -> list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...], MalformedMessage | None]]:
    """The stream in order with the malformed messages at random places between its events."""
    total = len(stream) + len(malformed)
    slots = set(rng.sample(range(total), len(malformed)))
    valid, refused = iter(stream.messages), iter(malformed)
    interleaved: list[
        tuple[bytes, bytes, tuple[tuple[str, bytes], ...], MalformedMessage | None]
    ] = []
    for slot in range(total):
        if slot in slots:
            bad = next(refused)
            interleaved.append((bad.key, bad.value, bad.headers, bad))
        else:
            message = next(valid)
            interleaved.append((message.key, message.value, message.headers, None))
    return interleaved


def test_malformed_messages_all_land_in_the_dead_letter_topic_with_reasons(
    topics: Topics,
    stream: DrillStream,
    drill_name: str,
    drill_sqlite_url: str,
    drill_seed: int,
    tmp_path: Path,
) -> None:
    rng = random.Random(drill_seed)
    malformed = malformed_messages(MALFORMED, stream.messages, rng)
    interleaved = _interleave(stream, malformed, rng)
    producer = open_producer(topics.bootstrap, "drill-malformed")
    try:
        stored = send_messages(
            producer,
            topics.lifecycle,
            ((key, value, headers) for key, value, headers, _ in interleaved),
        )
    finally:
        producer.close(timeout=30)
    sent = {
        (position.partition, position.offset): bad
        for position, (_, _, _, bad) in zip(stored, interleaved, strict=True)
        if bad is not None
    }
    replay = BackgroundReplay(topics, tmp_path)
    projector = ProjectorProcess.spawn(
        topics,
        drill_sqlite_url,
        drill_name,
        f"{drill_name}-projector",
        BATCH_SIZE,
        tmp_path,
        until_caught_up=True,
    )
    try:
        assert projector.wait(300) == 0, projector.log_tail()
    finally:
        projector.ensure_stopped()
    report = projector.report()
    assert (report["applied"], report["deadLettered"]) == (len(stream), MALFORMED), report
    assert sum(end_offsets(topics.bootstrap, topics.dead_letter).values()) == MALFORMED

    dead = read_dead_letters(topics.bootstrap, topics.dead_letter, MALFORMED)
    assert len(dead) == MALFORMED
    seen: set[tuple[int, int]] = set()
    kinds: Counter[str] = Counter()
    for record in dead:
        headers = dict(record.headers)
        source = (int(headers[HEADER_SOURCE_PARTITION]), int(headers[HEADER_SOURCE_OFFSET]))
        original = sent.get(source)
        assert original is not None, f"dead letter for a message not refused: {source}"
        assert source not in seen, f"dead-lettered twice: {source}"
        seen.add(source)
        assert (record.key, record.value) == (original.key, original.value)
        assert headers[KIND_HEADER].decode() == original.kind
        assert headers[HEADER_SOURCE_TOPIC].decode() == topics.lifecycle
        reason = headers[HEADER_ERROR].decode()
        assert reason and original.expected_reason in reason, (original.kind, reason)
        expected_kind = "InvalidEventError" if original.kind == INVALID_VALUES else "DecodeError"
        assert headers[HEADER_ERROR_KIND].decode() == expected_kind, reason
        assert datetime.fromisoformat(headers[HEADER_REFUSED_AT].decode()).tzinfo is not None
        kinds[original.kind] += 1
    assert seen == set(sent)
    assert kinds == Counter(bad.kind for bad in malformed)
    assert replay.result().dead_lettered == MALFORMED
    assert_equals_clean_replay(drill_sqlite_url, replay, stream.event_ids)
