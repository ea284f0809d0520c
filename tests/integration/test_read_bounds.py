"""Reads the API makes are read-only and bounded in time, on both stores: a statement that
runs past the bound is interrupted by the database."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from projections.db.backends import backend_of
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade

pytestmark = pytest.mark.integration

SLOW = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
              "SELECT count(*) FROM (SELECT i FROM n LIMIT 200000000)",
    "postgresql": "SELECT pg_sleep(5)",
}


def test_a_read_past_its_bound_is_interrupted(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            backend = backend_of(connection)
            with backend.read_only(connection, 0.3) as reading:
                started = time.monotonic()
                with pytest.raises(DBAPIError) as refused:
                    reading.exec_driver_sql(SLOW[engine.dialect.name])
                elapsed = time.monotonic() - started
            connection.rollback()
            assert elapsed < 3
            assert "interrupt" in str(refused.value) or "statement timeout" in str(refused.value)
            with backend.read_only(connection, 5.0) as reading:
                assert reading.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
