"""Read-only database connections for request handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def read_only_connection(request: Request) -> Iterator[Connection]:
    """A connection whose transaction cannot write (PostgreSQL read-only, SQLite query_only)."""
    with engine_of(request).connect() as connection:
        if connection.dialect.name == "postgresql":
            yield connection.execution_options(postgresql_readonly=True)
            return
        connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            _writable_again(connection)


def _writable_again(connection: Connection) -> None:
    """Lift ``query_only`` before the pooled connection goes back (or discard it)."""
    try:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA query_only = OFF")
        connection.rollback()
    except SQLAlchemyError:
        connection.invalidate()


ReadOnlyConnection = Annotated[Connection, Depends(read_only_connection)]
