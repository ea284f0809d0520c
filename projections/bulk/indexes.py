"""The end of a bulk load: its deferred indexes built, on PostgreSQL several at once.

Each index is one scan and sort of the loaded table. PostgreSQL builds an index in one
session (with its parallel maintenance workers), so building two or more from separate
sessions keeps the processors busy through the scans that one build leaves idle: 3.1 s
for the audit log's eleven on 200,000 rows one after the other, 1.9 s two at a time
(2 cores). SQLite has one writer, so there they are built in turn.

Should a unique constraint fail (an event id repeated across partitions), the indexes
other sessions built stay: :func:`present` tells which ones to drop again before another
load, :func:`missing` which ones a later attempt builds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, Engine

from projections.db.backends import Backend, DeferredIndex

MOST_BUILDERS = 4
"""Sessions building indexes at once, at most (each may use PostgreSQL's
``maintenance_work_mem`` of :meth:`Backend.relax_durability`)."""


def builders() -> int:
    """Sessions building indexes at once: one per processor, at least two."""
    return max(2, min(MOST_BUILDERS, os.cpu_count() or 1))


def present(
    connection: Connection, backend: Backend, tables: Sequence[str],
    indexes: Sequence[DeferredIndex],
) -> list[DeferredIndex]:
    """Those of ``indexes`` that the ``tables`` have."""
    found = {
        index.name for table in tables for index in backend.deferrable_indexes(connection, table)
    }
    return [index for index in indexes if index.name in found]


def missing(
    connection: Connection, backend: Backend, tables: Sequence[str],
    indexes: Sequence[DeferredIndex],
) -> list[DeferredIndex]:
    """Those of ``indexes`` that the ``tables`` do not have."""
    built = present(connection, backend, tables, indexes)
    return [index for index in indexes if index not in built]


def build(
    engine: Engine, connection: Connection, backend: Backend,
    indexes: Sequence[DeferredIndex],
) -> None:
    """Build ``indexes``: on PostgreSQL from :func:`builders` sessions of ``engine`` at once,
    each index in a transaction of its own; elsewhere in ``connection``, in one transaction.
    The first failure is raised once every build has ended."""
    if backend.name != "postgresql" or len(indexes) < 2:
        with connection.begin():
            for index in indexes:
                connection.exec_driver_sql(index.create)
        return
    with ThreadPoolExecutor(builders(), thread_name_prefix="index-build") as pool:
        futures = [pool.submit(_build_alone, engine, backend, index) for index in indexes]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def _build_alone(engine: Engine, backend: Backend, index: DeferredIndex) -> None:
    with engine.connect() as connection:
        backend.relax_durability(connection)
        with connection.begin():
            connection.exec_driver_sql(index.create)
