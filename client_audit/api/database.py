"""Read-only database connections for request handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from projections.db.backends import backend_of


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def read_only_connection(request: Request) -> Iterator[Connection]:
    """A connection whose transaction cannot write (PostgreSQL read-only, SQLite query_only)."""
    timeout_s: float = request.app.state.statement_timeout_s
    with (
        engine_of(request).connect() as connection,
        backend_of(connection).read_only(connection, timeout_s) as reading,
    ):
        yield reading


ReadOnlyConnection = Annotated[Connection, Depends(read_only_connection)]
