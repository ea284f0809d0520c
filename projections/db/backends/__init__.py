"""What differs between SQLite and PostgreSQL, in one module per backend.

Every other module asks :func:`backend_of` (for a connection or engine) or
:func:`backend_named` (for a dialect or URL backend name) and calls what it gets; no other
module compares dialect names.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from projections.db.backends.base import (
    Backend,
    DeferredIndex,
    Keep,
    RowSink,
    UnsupportedDatabaseError,
)
from projections.db.backends.postgres import POSTGRESQL
from projections.db.backends.sqlite import SQLITE

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Backend",
    "DeferredIndex",
    "Keep",
    "RowSink",
    "UnsupportedDatabaseError",
    "backend_named",
    "backend_of",
]

_BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (POSTGRESQL, SQLITE)}


def backend_named(name: str) -> Backend:
    """The backend of a dialect name (``postgresql``, ``sqlite``)."""
    found = _BACKENDS.get(name)
    if found is None:
        raise UnsupportedDatabaseError(
            f"the {name} database is not supported; use SQLite or PostgreSQL"
        )
    return found


def backend_of(bind: Connection | Engine) -> Backend:
    """The backend of a connection or engine."""
    return backend_named(bind.dialect.name)
