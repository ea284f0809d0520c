"""The interface every storage backend implements: the SQL that differs between databases."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, RowMapping, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

RowSink = Callable[[Mapping[str, Any]], None]
"""Takes one row (a mapping with the columns the sink was opened for)."""

Keep = Callable[[RowMapping], bool]
"""An exact test of a candidate row that SQL conditions selected (where SQL cannot decide)."""

Upsert = postgresql.Insert | sqlite.Insert
"""An INSERT that supports ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""


class UnsupportedDatabaseError(RuntimeError):
    """The projection store runs on SQLite and PostgreSQL only."""


@dataclass(frozen=True, slots=True)
class DeferredIndex:
    """A secondary index (or unique constraint) a bulk load drops first and builds last:
    the statements that drop it and that build it again as the migrations made it."""

    name: str
    drop: str
    create: str


class Backend(ABC):
    """One database kind: how to connect, and the statements whose SQL differs."""

    name: str
    """The SQLAlchemy dialect name (``sqlite``, ``postgresql``)."""

    alembic_batch_mode: bool
    """Whether Alembic must rebuild tables to alter them (SQLite's limited ALTER TABLE)."""

    @abstractmethod
    def create_engine(self, url: URL) -> Engine:
        """An engine configured for this backend."""

    @abstractmethod
    def write_transaction(self, engine: Engine) -> AbstractContextManager[Connection]:
        """A transaction that will write, committed on success, rolled back on any error."""

    @abstractmethod
    def lock_migrations(self, connection: Connection) -> None:
        """Exclude concurrent migrations until the transaction ends."""

    @abstractmethod
    def read_only(
        self, connection: Connection, timeout_s: float | None = None
    ) -> AbstractContextManager[Connection]:
        """The connection, unable to write while the block runs; each statement interrupted
        after ``timeout_s`` (None: unbounded)."""

    @abstractmethod
    def insert(self, table: Table) -> Upsert:
        """An INSERT into ``table`` that can resolve conflicts."""

    @abstractmethod
    def one_of(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        """``column`` is one of ``values``."""

    @abstractmethod
    def contains_any(self, column: Column[Any], values: Sequence[str]) -> ColumnElement[bool]:
        """The JSON array in ``column`` holds at least one of ``values`` (strings)."""

    @abstractmethod
    def contains_text(self, column: Column[Any], text: str) -> ColumnElement[bool]:
        """``column`` contains ``text``, ASCII letters compared in either case and every
        other character exactly (``%`` and ``_`` in ``text`` are themselves)."""

    @abstractmethod
    def array_elements(self, column: Column[Any]) -> TableValuedAlias:
        """The strings of the JSON array in ``column``, one row each, as column ``value``."""

    @abstractmethod
    def utc_day(self, column: Column[Any]) -> ColumnElement[str]:
        """The UTC calendar day of the instant in ``column``, as ``YYYY-MM-DD`` text."""

    @abstractmethod
    def address_in_network(
        self, column: Column[str], network: str
    ) -> tuple[ColumnElement[bool], Keep | None]:
        """Addresses (canonical text) in ``network`` (canonical CIDR text), or for an IPv4
        network their IPv4-mapped IPv6 form: a condition, and an exact check SQL leaves over."""

    @abstractmethod
    def code_point_order(self, column: Column[Any]) -> ColumnElement[Any]:
        """``column`` for ORDER BY in Unicode code-point order."""

    @abstractmethod
    def appender(
        self, connection: Connection, table: Table, columns: Sequence[str]
    ) -> AbstractContextManager[RowSink]:
        """A sink appending rows with ``columns`` to ``table`` in order, in the transaction."""

    @abstractmethod
    def upsert(
        self, connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Insert ``rows`` (every column) or replace the rows with the same primary key."""

    def bulk_appender(
        self, connection: Connection, table: Table, columns: Sequence[str]
    ) -> AbstractContextManager[RowSink]:
        """:meth:`appender` for a bulk load: the same stored values, with the least work per
        row the backend allows (default: :meth:`appender` itself)."""
        return self.appender(connection, table, columns)

    @abstractmethod
    def deferrable_indexes(self, connection: Connection, table_name: str) -> list[DeferredIndex]:
        """The secondary indexes of ``table_name`` a bulk load may drop and build again
        afterwards (those the backend can rebuild exactly; never the primary key)."""

    @abstractmethod
    def relax_durability(self, connection: Connection) -> None:
        """Settings of a bulk-loading session, called outside a transaction: commits need
        not reach the disk (a half-built bulk store is discarded, never resumed)."""

    @abstractmethod
    def restore_durability(self, connection: Connection) -> None:
        """Undo :meth:`relax_durability` (outside a transaction) and make the load durable."""


def replaced_columns(table: Table, insert: Upsert) -> dict[str, Any]:
    """Every non-key column of ``table`` set from the conflicting row's proposed values."""
    return {
        column.name: insert.excluded[column.name]
        for column in table.columns
        if not column.primary_key
    }


def primary_key(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """``text`` with the ASCII letters A-Z lowered and every other character unchanged."""
    return text.translate(_ASCII_LOWER)
