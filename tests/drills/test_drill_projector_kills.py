"""Drill 1: the projector process is SIGKILLed ten times while it applies, and restarted."""

from __future__ import annotations

import logging
import random
import signal
import time
from pathlib import Path

import pytest

from tests.drills.checks import BackgroundReplay, assert_equals_clean_replay, wait_for_rows
from tests.drills.projector_process import ProjectorProcess
from tests.drills.services import DrillPostgres, with_application_name
from tests.drills.stream import DrillStream, publish_stream
from tests.integration.projector_support import Topics, audit_count

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

KILLS = 10
BATCH_SIZE = 300
"""Small batches: many transactions, so that most kills land inside one."""
FINAL_BATCH_SIZE = 2000


def test_sigkill_ten_times_while_applying_then_equal_a_clean_replay(
    topics: Topics,
    drill_postgres: DrillPostgres,
    stream: DrillStream,
    drill_name: str,
    drill_pg_url: str,
    drill_seed: int,
    tmp_path: Path,
) -> None:
    rng = random.Random(drill_seed)
    publish_stream(topics.bootstrap, topics.lifecycle, stream.messages)
    replay = BackgroundReplay(topics, tmp_path)
    application = f"{drill_name}-projector"
    url = with_application_name(drill_pg_url, application)
    total = len(stream)
    step = total // (KILLS * 3)

    seen, inside_transaction, rejoin_seconds = 0, 0, []
    for kill in range(1, KILLS + 1):
        spawned = time.monotonic()
        process = ProjectorProcess.spawn(topics, url, drill_name, application, BATCH_SIZE, tmp_path)
        try:
            first = wait_for_rows(drill_pg_url, seen, process)
            rejoin_seconds.append(time.monotonic() - spawned)
            wait_for_rows(drill_pg_url, first + rng.randint(step // 2, step), process)
            time.sleep(rng.uniform(0.0, 0.2))
            inside_transaction += drill_postgres.wait_for_writing_transaction(application, 2.0)
            assert process.kill() == -signal.SIGKILL
        finally:
            process.ensure_stopped()
        seen = audit_count(drill_pg_url)
        log.info("kill %d at %d of %d audit rows", kill, seen, total)
        assert seen < total, "the stream was applied before the last kill; lengthen it"
    log.info(
        "%d of %d kills landed inside a writing transaction; restarted members resumed "
        "applying after %s s",
        inside_transaction,
        KILLS,
        [round(seconds, 1) for seconds in rejoin_seconds],
    )
    assert inside_transaction >= KILLS // 2, "too few kills landed while applying"

    final = ProjectorProcess.spawn(
        topics, url, drill_name, application, FINAL_BATCH_SIZE, tmp_path, until_caught_up=True
    )
    try:
        assert final.wait(300) == 0, final.log_tail()
    finally:
        final.ensure_stopped()
    assert final.report()["applied"] == total - seen
    assert_equals_clean_replay(drill_pg_url, replay, stream.event_ids)
