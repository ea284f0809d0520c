"""Drill 3: PostgreSQL is stopped for 30 seconds mid-stream and started again."""

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
    wait_for_rows,
)
from tests.drills.projector_process import ProjectorProcess
from tests.drills.services import DrillPostgres
from tests.drills.stream import DrillStream, publish_stream
from tests.integration.projector_support import Topics, audit_count

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

OUTAGE_S = 30.0
BATCH_SIZE = 1000


def test_postgres_down_for_30_s_then_equal_a_clean_replay(
    topics: Topics,
    drill_postgres: DrillPostgres,
    stream: DrillStream,
    drill_name: str,
    drill_pg_url: str,
    tmp_path: Path,
) -> None:
    publish_stream(topics.bootstrap, topics.lifecycle, stream.messages)
    ends = end_offsets(topics.bootstrap, topics.lifecycle)
    replay = BackgroundReplay(topics, tmp_path)
    total = len(stream)
    projector = ProjectorProcess.spawn(
        topics, drill_pg_url, drill_name, f"{drill_name}-projector", BATCH_SIZE, tmp_path
    )
    try:
        before = wait_for_rows(drill_pg_url, total // 4, projector)
        drill_postgres.stop()
        stopped_at = time.monotonic()
        log.info("postgresql stopped at %d of %d audit rows", before, total)
        while time.monotonic() - stopped_at < OUTAGE_S:
            assert projector.alive(), projector.log_tail()
            time.sleep(1.0)
        assert drill_postgres.start() == drill_postgres.test_url, "the port changed"
        back_at = time.monotonic()
        resumed = wait_for_rows(drill_pg_url, audit_count(drill_pg_url), projector)
        log.info(
            "postgresql down %.1f s; the projector committed again %.1f s after it came back "
            "(%d rows then)",
            back_at - stopped_at,
            time.monotonic() - back_at,
            resumed,
        )
        assert resumed < total, "the stream was applied before the outage; lengthen it"
        wait_caught_up(drill_pg_url, topics.lifecycle, ends, projector)
        assert projector.terminate() == 0, projector.log_tail()
    finally:
        projector.ensure_stopped()
        drill_postgres.start()
    failures = [line for line in projector.log_text().splitlines() if "level=error" in line]
    assert any("database error (commit batch)" in line for line in failures), failures[-5:]
    report = projector.report()
    assert report["applied"] + report["duplicatesSkipped"] == total, report
    assert_equals_clean_replay(drill_pg_url, replay, stream.event_ids)
