"""Engines and write transactions for the projection database, configured per backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url

from projections.db.backends import backend_named, backend_of


def normalised_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pinned to the psycopg 3 driver (the one installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str | URL) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, configured by its backend
    (:mod:`projections.db.backends`)."""
    parsed = normalised_url(url)
    return backend_named(parsed.get_backend_name()).create_engine(parsed)


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on any exception.

    On SQLite it takes the write lock up front, so it waits for another writer instead of
    failing when it first writes after reading.
    """
    with backend_of(engine).write_transaction(engine) as connection:
        yield connection
