"""Drill 4: the projector's database role becomes read-only mid-stream, then is fixed.

The fault ends the projector's sessions so that its new ones are read-only; the fix only
resets the role setting, and the projector must start committing again by itself.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from psycopg import sql

from devservices.pg_provision import APP_USER, TEST_DATABASE
from tests.drills.checks import (
    BackgroundReplay,
    assert_equals_clean_replay,
    end_offsets,
    positions,
    wait_caught_up,
    wait_for_rows,
    wait_until,
)
from tests.drills.projector_process import ProjectorProcess
from tests.drills.services import DrillPostgres, with_application_name
from tests.drills.stream import DrillStream, publish_stream
from tests.integration.projector_support import Topics, audit_count

pytestmark = pytest.mark.drill

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
HOLD_S = 6.0
"""How long the role stays read-only after the projector first reported it."""
PROBLEM = "read-only transaction"


def _set_read_only(drill_postgres: DrillPostgres, read_only: bool) -> None:
    """Make new sessions of the project's role in the test database read-only, or not."""
    setting = sql.SQL(
        "SET default_transaction_read_only = on"
        if read_only
        else "RESET default_transaction_read_only"
    )
    with drill_postgres.superuser() as connection:
        connection.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} {}").format(
                sql.Identifier(APP_USER), sql.Identifier(TEST_DATABASE), setting
            )
        )


def test_read_only_role_stops_commits_until_fixed_then_equal_a_clean_replay(
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
    application = f"{drill_name}-projector"
    projector = ProjectorProcess.spawn(
        topics,
        with_application_name(drill_pg_url, application),
        drill_name,
        application,
        BATCH_SIZE,
        tmp_path,
    )
    try:
        wait_for_rows(drill_pg_url, total // 4, projector)
        _set_read_only(drill_postgres, True)
        drill_postgres.terminate_sessions(application)
        noticed = wait_until(lambda: PROBLEM in projector.log_text(), "the error log", projector)
        stuck_at, stuck_rows = positions(drill_pg_url, topics.lifecycle), audit_count(drill_pg_url)
        log.info("the projector reported %r after %.1f s, at %d rows", PROBLEM, noticed, stuck_rows)
        time.sleep(HOLD_S)
        assert projector.alive(), projector.log_tail()
        assert positions(drill_pg_url, topics.lifecycle) == stuck_at, "positions moved"
        assert audit_count(drill_pg_url) == stuck_rows, "rows were committed"
        assert stuck_rows < total, "the stream was applied before the fault; lengthen it"

        _set_read_only(drill_postgres, False)
        fixed_at = time.monotonic()
        wait_for_rows(drill_pg_url, stuck_rows, projector)
        log.info("the projector committed again %.1f s after the fix", time.monotonic() - fixed_at)
        wait_caught_up(drill_pg_url, topics.lifecycle, ends, projector)
        assert projector.terminate() == 0, projector.log_tail()
    finally:
        projector.ensure_stopped()
        _set_read_only(drill_postgres, False)
    errors = [line for line in projector.log_text().splitlines() if "level=error" in line]
    assert any(PROBLEM in line and "nothing committed" in line for line in errors), errors[-5:]
    report = projector.report()
    assert report["applied"] + report["duplicatesSkipped"] == total, report
    assert_equals_clean_replay(drill_pg_url, replay, stream.event_ids)
