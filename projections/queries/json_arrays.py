"""Membership tests on JSON array columns (roles, anomaly flags) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Select, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.sql.elements import ColumnElement


def contains_any(column: Column[Any], values: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """Whether the JSON array in ``column`` holds at least one of ``values`` (strings).

    PostgreSQL: the JSONB ``?|`` operator. SQLite: ``json_each`` over the array.
    """
    if dialect == "postgresql":
        return column.op("?|", is_comparison=True)(array(list(values)))
    element = func.json_each(column).table_valued("value").alias("element")
    member = element.c.value.in_(values)
    matching: Select[Any] = select(literal_column("1")).select_from(element).where(member)
    return exists(matching)
