"""Drill 2: the broker is stopped and restarted while events are published and projected."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.drills.checks import (
    BackgroundReplay,
    assert_equals_clean_replay,
    end_offsets,
    wait_caught_up,
    wait_until,
)
from tests.drills.paced_publisher import PacedPublisher
from tests.drills.projector_process import ProjectorProcess
from tests.drills.services import DrillKafka
from tests.drills.stream import DrillStream
from tests.integration.projector_support import Topics, audit_count

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

PUBLISH_RATE = 5000.0
"""Events per second: the stream takes about 10 s, so the outage falls in the middle of it."""
BROKER_DOWN_S = 3.0
PUBLISHER_TIMEOUT_S = 120.0
"""The publisher's delivery timeout: long enough to ride out the outage on its own retries."""
BATCH_SIZE = 500


def test_broker_restart_mid_stream_then_equal_a_clean_replay(
    drill_kafka: DrillKafka,
    topics: Topics,
    stream: DrillStream,
    drill_name: str,
    drill_sqlite_url: str,
    tmp_path: Path,
) -> None:
    total = len(stream)
    projector = ProjectorProcess.spawn(
        topics, drill_sqlite_url, drill_name, f"{drill_name}-projector", BATCH_SIZE, tmp_path
    )
    publisher = PacedPublisher(
        topics.bootstrap,
        topics.lifecycle,
        stream.events,
        rate=PUBLISH_RATE,
        timeout_s=PUBLISHER_TIMEOUT_S,
    ).start()
    try:
        wait_until(
            lambda: publisher.confirmed >= total * 0.3 and audit_count(drill_sqlite_url) > 0,
            "the stream to be under way",
            projector,
        )
        drill_kafka.stop()
        stopped_at = time.monotonic()
        confirmed_while_down = publisher.confirmed
        rows_while_down = audit_count(drill_sqlite_url)
        log.info(
            "broker stopped with %d of %d events confirmed, %d applied",
            confirmed_while_down,
            total,
            rows_while_down,
        )
        time.sleep(BROKER_DOWN_S)
        confirmed_while_down = publisher.confirmed
        assert confirmed_while_down < total, "the stream was published before the outage"
        assert publisher.alive() and publisher.error is None
        assert projector.alive(), projector.log_tail()

        assert drill_kafka.start() == drill_kafka.bootstrap
        restarted_at = time.monotonic()
        rows_at_restart = audit_count(drill_sqlite_url)
        published_again = wait_until(
            lambda: publisher.confirmed > confirmed_while_down or not publisher.alive(),
            "the publisher to confirm again",
        )
        applied_again = wait_until(
            lambda: audit_count(drill_sqlite_url) > rows_at_restart,
            "projection to resume",
            projector,
        )
        log.info(
            "broker down %.1f s; after its restart the publisher confirmed again within "
            "%.1f s and the projector applied again within %.1f s",
            restarted_at - stopped_at,
            published_again,
            applied_again,
        )
        assert publisher.join(PUBLISHER_TIMEOUT_S * 2) == total
        ends = end_offsets(topics.bootstrap, topics.lifecycle)
        assert sum(ends.values()) == total, "the idempotent publisher stored an event twice"
        replay = BackgroundReplay(topics, tmp_path)
        wait_caught_up(drill_sqlite_url, topics.lifecycle, ends, projector)
        assert projector.terminate() == 0, projector.log_tail()
    finally:
        projector.ensure_stopped()
        drill_kafka.start()
    report = projector.report()
    assert (report["applied"], report["duplicatesSkipped"]) == (total, 0)
    assert_equals_clean_replay(drill_sqlite_url, replay, stream.event_ids)
