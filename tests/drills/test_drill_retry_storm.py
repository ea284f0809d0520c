"""Drill 6: a producer retry storm re-sends every event three times; nothing is doubled."""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.drills.checks import (
    BackgroundReplay,
    assert_equals_clean_replay,
    end_offsets,
    wait_caught_up,
)
from tests.drills.projector_process import ProjectorProcess
from tests.drills.stream import DrillStream, StreamMessage, open_producer, send_messages
from tests.integration.projector_support import Topics

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

COPIES = 3
"""Extra sends of every event, by a second producer, after the first send was confirmed."""
CHUNK = 2500
BATCH_SIZE = 5000


class RetryStorm:
    """Publishes the stream in confirmed chunks while a second producer re-sends each
    confirmed chunk ``COPIES`` times with the same bytes, so originals and copies interleave."""

    def __init__(self, bootstrap: str, topic: str, seed: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.rng = random.Random(seed)
        self.extra_sends = 0
        self.errors: list[BaseException] = []
        self._confirmed: queue.Queue[Sequence[StreamMessage] | None] = queue.Queue()

    def run(self, messages: Sequence[StreamMessage]) -> None:
        copier = threading.Thread(target=self._copy, name="retry-storm", daemon=True)
        copier.start()
        try:
            self._publish(messages)
        finally:
            self._confirmed.put(None)
            copier.join(300)
        if self.errors:
            raise AssertionError(f"the storm's producers failed: {self.errors!r}")

    def _publish(self, messages: Sequence[StreamMessage]) -> None:
        producer = open_producer(self.bootstrap, "drill-original")
        try:
            for first in range(0, len(messages), CHUNK):
                chunk = messages[first : first + CHUNK]
                send_messages(producer, self.topic, ((m.key, m.value, m.headers) for m in chunk))
                self._confirmed.put(chunk)
        finally:
            producer.close(timeout=30)

    def _copy(self) -> None:
        producer = open_producer(self.bootstrap, "drill-retrying")
        try:
            while (chunk := self._confirmed.get()) is not None:
                copies = [message for message in chunk for _ in range(COPIES)]
                self.rng.shuffle(copies)
                send_messages(producer, self.topic, ((m.key, m.value, m.headers) for m in copies))
                self.extra_sends += len(copies)
        except BaseException as exc:  # reported by run()
            self.errors.append(exc)
        finally:
            producer.close(timeout=30)


def test_retry_storm_adds_no_duplicate_rows_then_equal_a_clean_replay(
    topics: Topics,
    stream: DrillStream,
    drill_name: str,
    drill_pg_url: str,
    drill_seed: int,
    tmp_path: Path,
) -> None:
    total = len(stream)
    projector = ProjectorProcess.spawn(
        topics, drill_pg_url, drill_name, f"{drill_name}-projector", BATCH_SIZE, tmp_path
    )
    storm = RetryStorm(topics.bootstrap, topics.lifecycle, drill_seed)
    try:
        storm.run(stream.messages)
        assert storm.extra_sends == COPIES * total
        ends = end_offsets(topics.bootstrap, topics.lifecycle)
        assert sum(ends.values()) == total + storm.extra_sends
        replay = BackgroundReplay(topics, tmp_path)
        wait_caught_up(drill_pg_url, topics.lifecycle, ends, projector, timeout_s=400)
        assert projector.terminate() == 0, projector.log_tail()
    finally:
        projector.ensure_stopped()
    report = projector.report()
    assert report["applied"] == total, report
    assert report["duplicatesSkipped"] == storm.extra_sends, report
    assert replay.result().duplicates == storm.extra_sends
    assert_equals_clean_replay(drill_pg_url, replay, stream.event_ids)
