"""Helpers of the forensics tests: run a client-audit command in-process, change rows in SQL."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from client_audit.cli.main import cli
from projections.db.engine import create_engine_for
from tests.integration.projector_support import Topics


def run(topics: Topics, database_url: str, *args: str) -> Result:
    """``client-audit <args>`` against the topics and database, output captured."""
    arguments = [*topics.cli_options(database_url), *args]
    return CliRunner().invoke(cli, arguments, catch_exceptions=False)


def rows_of(result: Result) -> list[dict[str, Any]]:
    """The JSON lines a command printed on stdout."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def execute(database_url: str, statement: str, **parameters: Any) -> int:
    """Run one SQL statement directly (as someone tampering with the database would)."""
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            return connection.execute(sa.text(statement), parameters).rowcount
    finally:
        engine.dispose()


def scalar(database_url: str, statement: str, **parameters: Any) -> Any:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(statement), parameters).scalar()
    finally:
        engine.dispose()
