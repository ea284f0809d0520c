"""Bulk loading rows into PostgreSQL with COPY, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError

from projections.sqltypes import NaiveDatetimeError


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _cell(value: Any, as_json: bool) -> Any:
    if as_json:
        return orjson.dumps(value).decode()
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise NaiveDatetimeError(f"naive datetime {value.isoformat()} given to COPY")
    return value


def copy_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    into: str | None = None,
) -> None:
    """COPY ``rows`` (all with the same keys) into ``table`` on a PostgreSQL connection.

    ``into`` names another table with the same columns (e.g. a temporary staging table).
    The rows go through the same DBAPI connection, so they commit or roll back with the
    rest of the caller's transaction. JSON columns are sent as JSON text.
    """
    if not rows:
        return
    columns = list(rows[0])
    json_columns = [_is_json(table, name) for name in columns]
    quoted = ", ".join(f'"{name}"' for name in columns)
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("no DBAPI connection to COPY through")
    statement = f'COPY "{into or table.name}" ({quoted}) FROM STDIN'
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            cells = list(zip(columns, json_columns, strict=True))
            for row in rows:
                copy.write_row([_cell(row[name], is_json) for name, is_json in cells])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
