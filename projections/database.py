"""Engines for the projection database, configured per backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as sqlalchemy_create_engine
from sqlalchemy.engine import URL, ExceptionContext, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000

_BEGIN_OPTION = "client_audit_sqlite_begin"
_READ_ONLY_SQLSTATE = "25006"


def normalised_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pinned to the psycopg 3 driver (the one installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str | URL) -> Engine:
    """An engine for a SQLite or PostgreSQL URL.

    SQLite: WAL journal (readers do not block the writer), ``synchronous=NORMAL`` (safe with
    WAL: a power loss can only lose the newest commits, and the consumer positions are in
    the same commits), foreign keys on, a busy timeout, and transactions begun by SQLAlchemy
    rather than by the sqlite3 module, so that :func:`write_transaction` can take the write
    lock up front. PostgreSQL: connections are checked before use, and a session that
    refuses to write because it is read-only is discarded (see _discard_read_only_sessions).
    """
    parsed = normalised_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sqlalchemy_create_engine(parsed, json_deserializer=orjson.loads)
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    engine = sqlalchemy_create_engine(parsed, pool_pre_ping=True, json_deserializer=orjson.loads)
    event.listen(engine, "handle_error", _discard_read_only_sessions)
    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any exception.

    On SQLite it starts with ``BEGIN IMMEDIATE``, so it waits (up to the busy timeout) for
    another writer instead of failing when it first writes after reading.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with connection.begin():
            yield connection


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _discard_read_only_sessions(context: ExceptionContext) -> None:
    """Treat "read-only transaction" (SQLSTATE 25006) like a lost connection.

    A PostgreSQL session keeps the read-only default it started with (a role or database
    setting, or a server that became a standby), so it can never write again; discarding
    the pool lets a retry open a session that sees the fixed setting or the new primary.
    """
    if getattr(context.original_exception, "sqlstate", None) == _READ_ONLY_SQLSTATE:
        context.is_disconnect = True


def _begin_sqlite_transaction(connection: Connection) -> None:
    begin = connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN")
    connection.exec_driver_sql(begin)
