"""SQLite, the embedded default: WAL, one writer at a time, JSON1 and text-prefix addresses.

Everything SQLite-specific the projections do is here: the connection pragmas, write
transactions begun ``IMMEDIATE``, ``query_only`` reads, ``json_each`` membership and the
text-prefix prefilter for address searches.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    RowMapping,
    Select,
    Table,
    create_engine,
    event,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from projections.db.backends.base import (
    Backend,
    DeferredIndex,
    Keep,
    RowSink,
    Upsert,
    replaced_columns,
)
from projections.model.addresses import network_contains, parse_network, spellings

BUSY_TIMEOUT_MS = 30_000

_BEGIN_OPTION = "client_audit_sqlite_begin"


class SqliteBackend(Backend):
    name = "sqlite"
    alembic_batch_mode = True

    def create_engine(self, url: URL) -> Engine:
        """WAL journal (readers do not block the writer), ``synchronous=NORMAL`` (safe with
        WAL: a power loss can only lose the newest commits, and the consumer positions are
        in the same commits), foreign keys on, a busy timeout, and transactions begun by
        SQLAlchemy rather than by the sqlite3 module, so that :meth:`write_transaction` can
        take the write lock up front."""
        engine = create_engine(url, json_deserializer=orjson.loads)
        event.listen(engine, "connect", _configure_connection)
        event.listen(engine, "begin", _begin_transaction)
        return engine

    @contextlib.contextmanager
    def write_transaction(self, engine: Engine) -> Iterator[Connection]:
        """Begun ``IMMEDIATE``: it waits (up to the busy timeout) for another writer instead
        of failing when it first writes after reading."""
        with engine.connect() as connection:
            connection.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
            with connection.begin():
                yield connection

    def lock_migrations(self, connection: Connection) -> None:
        """Nothing to take: the IMMEDIATE write transaction already excludes other writers."""

    @contextlib.contextmanager
    def read_only(
        self, connection: Connection, timeout_s: float | None = None
    ) -> Iterator[Connection]:
        """``query_only``; a statement running past ``timeout_s`` is interrupted by a
        progress handler (``sqlite3.OperationalError: interrupted``)."""
        connection.exec_driver_sql("PRAGMA query_only = ON")
        driver = connection.connection.driver_connection
        if timeout_s is not None and driver is not None:
            deadline = time.monotonic() + timeout_s
            driver.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield connection
        finally:
            if driver is not None:
                driver.set_progress_handler(None, 0)
            _writable_again(connection)

    def insert(self, table: Table) -> Upsert:
        return sqlite.insert(table)

    def one_of(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        return column.in_(list(values))

    def contains_any(self, column: Column[Any], values: Sequence[str]) -> ColumnElement[bool]:
        """``json_each`` over the array."""
        element = func.json_each(column).table_valued("value").alias("element")
        member = element.c.value.in_(list(values))
        matching: Select[Any] = select(literal_column("1")).select_from(element).where(member)
        return exists(matching)

    def contains_text(self, column: Column[Any], text: str) -> ColumnElement[bool]:
        """``LIKE``, which in SQLite folds the case of ASCII letters only."""
        return column.contains(text, autoescape=True)

    def array_elements(self, column: Column[Any]) -> TableValuedAlias:
        return func.json_each(column).table_valued("value")

    def utc_day(self, column: Column[Any]) -> ColumnElement[str]:
        """``date()`` of the stored UTC wall time."""
        return func.date(column)

    def address_in_network(
        self, column: Column[str], network: str
    ) -> tuple[ColumnElement[bool], Keep | None]:
        """A text-prefix condition selecting a superset of the matches (SQLite has no
        address type), and the exact check of each candidate."""
        return text_prefix_condition(column, network), partial(_row_in, network, column.name)

    def code_point_order(self, column: Column[Any]) -> ColumnElement[Any]:
        """SQLite's default BINARY collation compares UTF-8 bytes: code-point order."""
        return column

    def upsert(
        self, connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if not rows:
            return
        insert = sqlite.insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=list(table.primary_key.columns), set_=replaced_columns(table, insert)
        )
        connection.execute(statement, list(rows))

    @contextlib.contextmanager
    def appender(
        self, connection: Connection, table: Table, columns: Sequence[str]
    ) -> Iterator[RowSink]:
        """Rows converted by the columns' own bind processors (so the stored values are
        those an INSERT through SQLAlchemy stores), then given to the driver's
        ``executemany`` when the block ends. The live store's path and the bulk load's
        (:meth:`Backend.bulk_appender` is this)."""
        processors = [
            table.c[name].type._cached_bind_processor(connection.dialect) for name in columns
        ]
        converted = [
            (position, processor)
            for position, processor in enumerate(processors)
            if processor is not None
        ]
        take = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        rows: list[tuple[Any, ...]] = []

        def append(row: Mapping[str, Any]) -> None:
            values = list(take(row))
            for position, processor in converted:
                values[position] = processor(values[position])
            rows.append(tuple(values))

        yield append
        if rows:
            statement = table.insert().compile(dialect=connection.dialect,
                                               column_keys=list(columns))
            connection.exec_driver_sql(str(statement), rows)

    def deferrable_indexes(self, connection: Connection, table_name: str) -> list[DeferredIndex]:
        """Every index made by CREATE INDEX (its text is kept in ``sqlite_master``); the
        indexes of UNIQUE constraints are part of the table and stay."""
        query = text(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL ORDER BY name"
        )
        return [
            DeferredIndex(name, f'DROP INDEX "{name}"', sql)
            for name, sql in connection.execute(query, {"table": table_name})
        ]

    def relax_durability(self, connection: Connection) -> None:
        """No syncs, the rollback journal in memory (no WAL to copy back), a large page
        cache."""
        driver = _driver(connection)
        for pragma in ("synchronous=OFF", "journal_mode=MEMORY", "cache_size=-262144",
                       "temp_store=MEMORY"):
            driver.execute(f"PRAGMA {pragma}")

    def restore_durability(self, connection: Connection) -> None:
        """Back to WAL and ``synchronous=NORMAL``, the store's settings."""
        driver = _driver(connection)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-2000"):
            driver.execute(f"PRAGMA {pragma}")


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("no sqlite3 connection under this connection")
    return driver


def text_prefix_condition(column: Column[str], network: str) -> ColumnElement[bool]:
    """A superset of the canonical addresses in ``network``, by text prefix.

    Only whole leading octets (IPv4, also after the ``::ffff:`` of their mapped form) or
    whole, non-zero leading groups (IPv6, whose canonical form may compress zero groups)
    are used: they always appear verbatim.
    """
    parsed = parse_network(network)
    if parsed.num_addresses == 1:
        return column.in_(spellings(parsed.network_address))
    if isinstance(parsed, ipaddress.IPv4Network):
        octets = str(parsed.network_address).split(".")[: parsed.prefixlen // 8]
        prefix = ".".join(octets) + "." if octets else ""
        return or_(_prefix_like(column, prefix), column.like(f"::ffff:{prefix}%"))
    groups = parsed.network_address.exploded.split(":")[: parsed.prefixlen // 16]
    leading: list[str] = []
    for group in groups:
        if int(group, 16) == 0:
            break
        leading.append(format(int(group, 16), "x"))
    return _prefix_like(column, ":".join(leading) + ":" if leading else "")


def _prefix_like(column: Column[str], prefix: str) -> ColumnElement[bool]:
    if not prefix:
        return column.is_not(None)
    return column.like(prefix + "%")


def _row_in(network: str, name: str, row: RowMapping) -> bool:
    return network_contains(network, row[name])


def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_transaction(connection: Connection) -> None:
    begin = connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN")
    connection.exec_driver_sql(begin)


def _writable_again(connection: Connection) -> None:
    """Lift ``query_only`` before the pooled connection goes back (or discard it)."""
    try:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA query_only = OFF")
        connection.rollback()
    except SQLAlchemyError:
        connection.invalidate()


SQLITE = SqliteBackend()
