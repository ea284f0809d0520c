"""Read-only database connections for request handlers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from projections.db.backends import backend_of


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


@contextlib.contextmanager
def reading(request: Request) -> Iterator[Connection]:
    """A connection whose transaction cannot write (PostgreSQL read-only, SQLite
    query_only), each statement bounded by the request timeout."""
    timeout_s: float = request.app.state.statement_timeout_s
    with (
        engine_of(request).connect() as connection,
        backend_of(connection).read_only(connection, timeout_s) as read_only,
    ):
        yield read_only


def read_only_connection(request: Request) -> Iterator[Connection]:
    """:func:`reading` as a FastAPI dependency."""
    with reading(request) as connection:
        yield connection


ReadOnlyConnection = Annotated[Connection, Depends(read_only_connection)]
