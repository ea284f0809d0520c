"""Bulk loading rows into PostgreSQL with COPY, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError

from projections.sqltypes import NaiveDatetimeError, UtcDateTime


def _column_kinds(table: Table, columns: Sequence[str]) -> tuple[list[int], list[int]]:
    """Positions of the JSON columns and of the instant columns among ``columns``."""
    json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    instant_at = [
        i for i, name in enumerate(columns) if isinstance(table.c[name].type, UtcDateTime)
    ]
    return json_at, instant_at


def _cells(
    row: Mapping[str, Any],
    take: Callable[[Mapping[str, Any]], tuple[Any, ...]],
    json_at: list[int],
    instant_at: list[int],
) -> list[Any]:
    cells = list(take(row))
    for index in json_at:
        cells[index] = orjson.dumps(cells[index]).decode()
    for index in instant_at:
        value = cells[index]
        if value is not None and value.utcoffset() is None:
            raise NaiveDatetimeError(f"naive datetime {value.isoformat()} given to COPY")
    return cells


RowSink = Callable[[Mapping[str, Any]], None]
"""Takes one row (a mapping with the columns the sink was opened for)."""


@contextmanager
def copy_stream(
    connection: Connection, table: Table, columns: Sequence[str], into: str | None = None
) -> Iterator[RowSink]:
    """A COPY into ``table`` open for the block: each row given to the sink is sent at once.

    The server loads the rows while the caller computes the next ones; leaving the block
    ends the COPY and waits for the server. ``into`` names another table with the same
    columns (e.g. a temporary staging table). The rows go through the same DBAPI
    connection, so they commit or roll back with the rest of the caller's transaction.
    JSON columns are sent as JSON text; a naive datetime in an instant column is refused.
    """
    json_at, instant_at = _column_kinds(table, columns)
    take = itemgetter(*columns)
    quoted = ", ".join(f'"{name}"' for name in columns)
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("no DBAPI connection to COPY through")
    statement = f'COPY "{into or table.name}" ({quoted}) FROM STDIN'
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:

            def send(row: Mapping[str, Any]) -> None:
                copy.write_row(_cells(row, take, json_at, instant_at))

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
