"""Where each worker process of a bulk replay loads.

PostgreSQL takes every worker's session at once, so all of them load into the target.
SQLite has one writer at a time: the first worker loads into the target and each other
into a scratch copy of the prepared target (``VACUUM INTO``, in a directory beside it), and
:meth:`WorkerStores.merge` then copies the scratch rows into the target in one transaction
(``ATTACH`` and ``INSERT … SELECT``, in SQLite itself). A merged row gets the target's next
``position``, a scratch Merkle log the target's next ``log_id`` (its nodes follow it); an
event id or a credential that two workers both hold breaks the target's unique constraint
or primary key there (IntegrityError), as PostgreSQL's unique constraint does when its
indexes are built. The scratch directory is removed when the block ends, whatever happened;
it is owned (:mod:`projections.bulk.owned`), so that one a replay killed outright left is
removed by the next bulk replay into the same directory.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from projections.bulk.owned import make_owned, remove_abandoned
from projections.bulk.store import LOADED_TABLES
from projections.db.backends import backend_of
from projections.db.tables import audit_log, merkle_logs, merkle_nodes

log = logging.getLogger(__name__)

SCRATCH_PREFIX = ".client-audit-bulk-"
"""The scratch directory's name begins so, beside the SQLite target."""

UNCLAIMED_AFTER_S = 600.0
"""A scratch directory without an owner file counts as abandoned once this old."""

_MERGE_PRAGMAS = ("synchronous=OFF", "cache_size=-262144", "temp_store=MEMORY")

_RENUMBERED = {audit_log.name: "position", merkle_logs.name: "log_id"}
"""Columns the target numbers afresh as the rows arrive."""


class ParallelLoadError(RuntimeError):
    """This database cannot be loaded by several processes: an in-memory SQLite database,
    or no scratch copy could be made beside a SQLite file (the directory, the disk)."""


def file_database(engine: Engine) -> Path | None:
    """The file of a SQLite database (None: in memory or named by a ``file:`` URI)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def loads_in_parallel(engine: Engine) -> bool:
    """Whether worker processes can share a bulk load into this database: PostgreSQL, and
    SQLite databases in a file."""
    if backend_of(engine).name == "sqlite":
        return file_database(engine) is not None
    return True


@dataclass
class WorkerStores:
    """The database URL of each worker (the first: the target) and the scratch files of
    the others, to merge into the target once every worker is done."""

    engine: Engine
    urls: list[str]
    scratch: list[Path] = field(default_factory=list)

    def merge(self) -> None:
        """Copy every scratch file's rows into the target, in one transaction without syncs
        (nothing to do on PostgreSQL); the merging session is closed afterwards."""
        if not self.scratch:
            return
        aliases = [f"bulk_worker_{index}" for index in range(len(self.scratch))]
        started = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                driver = _driver(connection)
                for pragma in _MERGE_PRAGMAS:
                    driver.execute(f"PRAGMA {pragma}")
                for alias, path in zip(aliases, self.scratch, strict=True):
                    driver.execute(f"ATTACH DATABASE ? AS {alias}", (str(path),))
                try:
                    with connection.begin():
                        merged = sum(connection.execute(statement).rowcount
                                     for alias in aliases
                                     for statement in merge_statements(alias))
                finally:
                    for alias in aliases:
                        driver.execute(f"DETACH DATABASE {alias}")
        finally:
            self.engine.dispose()
        log.info("merged %d rows of %d scratch stores into the target in %.1f s", merged,
                 len(self.scratch), time.perf_counter() - started)


@contextlib.contextmanager
def worker_stores(engine: Engine, url: str, workers: int) -> Iterator[WorkerStores]:
    """The stores of ``workers`` processes loading into the prepared target ``url``."""
    if backend_of(engine).name != "sqlite":
        yield WorkerStores(engine, [url] * workers)
        return
    target = file_database(engine)
    if target is None:
        raise ParallelLoadError("an in-memory SQLite database is loaded by one process")
    remove_abandoned(target.parent, SCRATCH_PREFIX, UNCLAIMED_AFTER_S)
    try:
        directory = make_owned(target.parent, SCRATCH_PREFIX)
    except OSError as exc:
        raise ParallelLoadError(f"no scratch directory beside {target}: {exc}") from exc
    try:
        scratch = [directory / f"worker-{index}.db" for index in range(1, workers)]
        try:
            with engine.connect() as connection:
                for path in scratch:
                    _driver(connection).execute("VACUUM INTO ?", (str(path),))
        except (sqlite3.Error, SQLAlchemyError) as exc:
            raise ParallelLoadError(f"no scratch copy of {target} in {directory}: {exc}") \
                from exc
        urls = [url, *(engine.url.set(database=str(path)).render_as_string(False)
                       for path in scratch)]
        engine.dispose()  # no pooled session on the target while the first worker loads
        yield WorkerStores(engine, urls, scratch)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def merge_statements(alias: str) -> list[Executable]:
    """The statements copying the rows of the attached scratch database ``alias`` into the
    target: Merkle logs first (renumbered), their nodes under the target's log ids, then
    the other loaded tables, audit rows in their scratch order."""
    scratch = MetaData()
    sources = {table.name: table.to_metadata(scratch, schema=alias) for table in LOADED_TABLES}
    statements: list[Executable] = []
    for table in sorted(LOADED_TABLES, key=lambda table: table is merkle_nodes):
        source = sources[table.name]
        if table is merkle_nodes:
            logs = sources[merkle_logs.name]
            others = [column.name for column in table.columns if column.name != "log_id"]
            rows = select(merkle_logs.c.log_id, *(source.c[name] for name in others)).join(
                logs, logs.c.log_id == source.c.log_id
            ).join(merkle_logs, (merkle_logs.c.topic == logs.c.topic)
                   & (merkle_logs.c.partition == logs.c.partition))
            statements.append(insert(table).from_select(["log_id", *others], rows))
            continue
        renumbered = _RENUMBERED.get(table.name)
        names = [column.name for column in table.columns if column.name != renumbered]
        rows = select(*(source.c[name] for name in names))
        if renumbered is not None:
            rows = rows.order_by(source.c[renumbered])
        statements.append(insert(table).from_select(names, rows))
    return statements


def _driver(connection: Connection) -> Any:
    """The sqlite3 connection under ``connection``, which runs outside SQLAlchemy's
    transactions (``ATTACH``, ``VACUUM`` cannot run in one)."""
    return connection.connection.driver_connection
