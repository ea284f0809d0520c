"""PostgreSQL, the production store: COPY for bulk rows, JSONB and inet operators.

Everything PostgreSQL-specific the projections do is here: the engine's settings, COPY
streams inside the caller's transaction, ``= ANY(array)`` key lists, the ``?|`` and ``<<=``
operators, read-only transactions and the migration lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    ARRAY,
    JSON,
    Column,
    Connection,
    Engine,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import INET, array
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from projections.db.backends.base import (
    Backend,
    DeferredIndex,
    Keep,
    RowSink,
    Upsert,
    ascii_lower,
    replaced_columns,
)
from projections.db.sqltypes import NaiveDatetimeError, UtcDateTime
from projections.model.addresses import parse_network, spellings, with_mapped

READ_ONLY_SQLSTATE = "25006"

MIGRATION_LOCK = 0x63_6C_61_75_64_69_74
"""Advisory lock key held while migrating, so concurrent upgrades run one by one."""


class PostgresBackend(Backend):
    name = "postgresql"
    alembic_batch_mode = False

    def create_engine(self, url: URL) -> Engine:
        """Connections are checked before use; a session that refuses to write because it
        is read-only is discarded (see :func:`_discard_read_only_sessions`)."""
        engine = create_engine(url, pool_pre_ping=True, json_deserializer=orjson.loads)
        event.listen(engine, "handle_error", _discard_read_only_sessions)
        return engine

    @contextlib.contextmanager
    def write_transaction(self, engine: Engine) -> Iterator[Connection]:
        with engine.connect() as connection, connection.begin():
            yield connection

    def lock_migrations(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})

    @contextlib.contextmanager
    def read_only(
        self, connection: Connection, timeout_s: float | None = None
    ) -> Iterator[Connection]:
        reading = connection.execution_options(postgresql_readonly=True)
        if timeout_s is not None:
            milliseconds = max(1, int(timeout_s * 1000))
            reading.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        yield reading

    def insert(self, table: Table) -> Upsert:
        return postgresql.insert(table)

    def deferrable_indexes(self, connection: Connection, table_name: str) -> list[DeferredIndex]:
        return deferrable_indexes(connection, table_name)

    def relax_durability(self, connection: Connection) -> None:
        """Commits that do not wait for the WAL flush, and memory for the index builds."""
        connection.exec_driver_sql("SET synchronous_commit = off")
        connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        connection.commit()

    def restore_durability(self, connection: Connection) -> None:
        connection.exec_driver_sql("RESET synchronous_commit")
        connection.exec_driver_sql("RESET maintenance_work_mem")
        connection.commit()

    def one_of(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        """``= ANY(array)``: one bound parameter, so the statement's text does not depend on
        how many values there are and both SQLAlchemy and the driver reuse it."""
        return column == any_(bindparam(None, list(values), type_=ARRAY(Text), unique=True))

    def contains_any(self, column: Column[Any], values: Sequence[str]) -> ColumnElement[bool]:
        """The JSONB ``?|`` operator."""
        return column.op("?|", is_comparison=True)(array(list(values)))

    def contains_text(self, column: Column[Any], text: str) -> ColumnElement[bool]:
        """``lower(column COLLATE "C") LIKE``: under the C collation ``lower`` changes the
        ASCII letters only, as SQLite's ``LIKE`` folds them."""
        return func.lower(column.collate("C")).contains(ascii_lower(text), autoescape=True)

    def array_elements(self, column: Column[Any]) -> TableValuedAlias:
        return func.jsonb_array_elements_text(column).table_valued("value")

    def utc_day(self, column: Column[Any]) -> ColumnElement[str]:
        """The UTC wall time's day, whatever the session's time zone."""
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")

    def address_in_network(
        self, column: Column[str], network: str
    ) -> tuple[ColumnElement[bool], Keep | None]:
        """Exact containment with ``inet`` operators (text equality for one address, which
        the ``source_ip`` index answers)."""
        parsed = parse_network(network)
        if parsed.num_addresses == 1:
            return column.in_(spellings(parsed.network_address)), None
        address = cast(column, INET)
        within = address.op("<<=", is_comparison=True)
        condition = or_(*(within(cast(literal(str(each)), INET)) for each in with_mapped(parsed)))
        return condition, None

    def code_point_order(self, column: Column[Any]) -> ColumnElement[Any]:
        return column.collate("C")

    def appender(
        self, connection: Connection, table: Table, columns: Sequence[str]
    ) -> contextlib.AbstractContextManager[RowSink]:
        """One COPY, rows sent as they come: the server loads them (and maintains the
        indexes) while the caller builds the next ones."""
        return copy_stream(connection, table, columns)

    def upsert(
        self, connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """COPY into a session-local staging table, then one INSERT … ON CONFLICT."""
        if not rows:
            return
        staging = f"{table.name}_incoming"
        connection.execute(
            text(
                f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}") '
                "ON COMMIT DELETE ROWS"
            )
        )
        copy_rows(connection, table, rows, into=staging)
        names = [each.name for each in table.columns]
        source = select(*_table_of(staging, names).c)
        insert = postgresql.insert(table).from_select(names, source)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=list(table.primary_key.columns),
                set_=replaced_columns(table, insert),
            )
        )


_DEFERRABLE = text("""
    SELECT i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype = 'u'
    WHERE x.indrelid = to_regclass(:table) AND NOT x.indisprimary
    ORDER BY i.relname
""")


def deferrable_indexes(connection: Connection, table_name: str) -> list[DeferredIndex]:
    """Every secondary index of ``table_name`` (in the search path), unique constraints
    included: dropped and added back as constraints, the others re-created from
    ``pg_get_indexdef``."""
    quoted = f'"{table_name}"'
    found = []
    for index, definition, constraint, constraint_definition in connection.execute(
        _DEFERRABLE, {"table": quoted}
    ):
        if constraint is None:
            found.append(DeferredIndex(index, f'DROP INDEX "{index}"', definition))
        else:
            found.append(DeferredIndex(
                constraint,
                f'ALTER TABLE {quoted} DROP CONSTRAINT "{constraint}"',
                f'ALTER TABLE {quoted} ADD CONSTRAINT "{constraint}" {constraint_definition}',
            ))
    return found


def _table_of(name: str, names: Sequence[str]) -> Any:
    return table(name, *(column(each) for each in names))


def _discard_read_only_sessions(context: ExceptionContext) -> None:
    """Treat "read-only transaction" (SQLSTATE 25006) like a lost connection.

    A PostgreSQL session keeps the read-only default it started with (a role or database
    setting, or a server that became a standby), so it can never write again; discarding
    the pool lets a retry open a session that sees the fixed setting or the new primary.
    """
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQLSTATE:
        context.is_disconnect = True


def _column_kinds(table: Table, columns: Sequence[str]) -> tuple[list[int], list[int]]:
    """Positions of the JSON columns and of the instant columns among ``columns``."""
    json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    instant_at = [
        i for i, name in enumerate(columns) if isinstance(table.c[name].type, UtcDateTime)
    ]
    return json_at, instant_at


@contextlib.contextmanager
def copy_stream(
    connection: Connection, table: Table, columns: Sequence[str], into: str | None = None
) -> Iterator[RowSink]:
    """A COPY into ``table`` open for the block: each row given to the sink is sent at once.

    Leaving the block ends the COPY and waits for the server. ``into`` names another table
    with the same columns (e.g. a temporary staging table). The rows go through the same
    DBAPI connection, so they commit or roll back with the rest of the caller's
    transaction. JSON columns are sent as JSON text; a naive datetime in an instant column
    is refused.
    """
    json_at, instant_at = _column_kinds(table, columns)
    take = itemgetter(*columns)
    quoted = ", ".join(f'"{name}"' for name in columns)
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("no DBAPI connection to COPY through")
    statement = f'COPY "{into or table.name}" ({quoted}) FROM STDIN'

    def cells(row: Mapping[str, Any]) -> list[Any]:
        values = list(take(row))
        for index in json_at:
            values[index] = orjson.dumps(values[index]).decode()
        for index in instant_at:
            value = values[index]
            if value is not None and value.utcoffset() is None:
                raise NaiveDatetimeError(f"naive datetime {value.isoformat()} given to COPY")
        return values

    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:

            def send(row: Mapping[str, Any]) -> None:
                copy.write_row(cells(row))

            yield send
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def copy_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    into: str | None = None,
) -> None:
    """COPY ``rows`` (all with the same keys) into ``table``: :func:`copy_stream` at once."""
    if not rows:
        return
    with copy_stream(connection, table, list(rows[0]), into) as send:
        for row in rows:
            send(row)


POSTGRESQL = PostgresBackend()
