"""Rendering query rows: a human table (rich), JSON, JSON lines or CSV.

Rows are iterated and written one at a time, so JSON, JSON lines and CSV exports of any size
run in constant memory. JSON is one array; JSON lines one object per line; CSV has a header
row of the field names, with lists and objects as compact JSON text and null as an empty
cell. Names are the camelCase names of the API. Tables hold a chosen subset of columns.

Stored text comes from upstream systems and may be hostile. In CSV (``--format csv``) a text
cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
a single quote, as OWASP's CSV-injection advice says, so a spreadsheet shows it instead of
running it as a formula; ``--format csv-raw`` writes every cell exactly as stored, for
machine consumers. In tables every non-printable character is shown escaped
(:mod:`client_audit.display`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from client_audit.display import visible

Row = TypeVar("Row", bound=BaseModel)

FILE_WIDTH = 240
"""Characters per line of a table written to a file or pipe."""


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    CSV_RAW = "csv-raw"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters by which a spreadsheet takes a cell for a formula (OWASP)."""


def default_format(stream: TextIO) -> Format:
    """A table for a terminal, JSON lines for a pipe or a file."""
    return Format.TABLE if stream.isatty() else Format.JSONL


def field_names(model: type[BaseModel]) -> list[str]:
    """The serialised (camelCase) names of a row model's fields, in declaration order."""
    return [info.alias or name for name, info in model.model_fields.items()]


def csv_cell(value: Any, neutralise: bool = True) -> str:
    """One CSV cell: null empty, lists and objects as compact JSON, the rest as text; a
    text that a spreadsheet would run as a formula gets a leading ``'`` unless not
    ``neutralise``."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    if neutralise and isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def table_cell(value: Any) -> str:
    """One table cell, every non-printable character escaped."""
    if value is None:
        return ""
    if isinstance(value, list):
        return visible(", ".join(str(item) for item in value))
    if isinstance(value, dict):
        return visible(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return visible(str(value))


def jsonl_lines(rows: Iterable[BaseModel]) -> Iterator[str]:
    """One JSON object per row, each ending with a newline (for streamed responses too)."""
    for row in rows:
        yield row.model_dump_json() + "\n"


def csv_lines(
    rows: Iterable[BaseModel], model: type[BaseModel], neutralise: bool = True
) -> Iterator[str]:
    """The header line, then one CSV line per row (see :func:`csv_cell`)."""
    names = field_names(model)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(names)
    for row in rows:
        values = row.model_dump(mode="json")
        yield line([csv_cell(values[name], neutralise) for name in names])


def write_jsonl(rows: Iterable[BaseModel], stream: TextIO) -> int:
    count = 0
    for line in jsonl_lines(rows):
        stream.write(line)
        count += 1
    return count


def write_json(rows: Iterable[BaseModel], stream: TextIO) -> int:
    """A JSON array, written element by element."""
    count = 0
    stream.write("[")
    for row in rows:
        stream.write(",\n  " if count else "\n  ")
        stream.write(row.model_dump_json())
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


def write_csv(
    rows: Iterable[BaseModel], model: type[BaseModel], stream: TextIO, neutralise: bool = True
) -> int:
    lines = csv_lines(rows, model, neutralise)
    stream.write(next(lines))
    count = 0
    for line in lines:
        stream.write(line)
        count += 1
    return count


def write_table(
    rows: Iterable[BaseModel],
    columns: Sequence[str],
    stream: TextIO,
    title: str | None = None,
) -> int:
    """A rich table of the given columns (the rows are gathered: tables are for people)."""
    table = Table(*columns, title=None if title is None else visible(title), show_lines=False,
                  header_style="bold")
    count = 0
    for row in rows:
        values = row.model_dump(mode="json")
        table.add_row(*(table_cell(values[column]) for column in columns))
        count += 1
    _console(stream).print(table)
    return count


def write_record(row: BaseModel, stream: TextIO, title: str | None = None) -> None:
    """One row as a two-column field/value table."""
    table = Table("field", "value", title=None if title is None else visible(title),
                  header_style="bold")
    for name, value in row.model_dump(mode="json").items():
        table.add_row(name, table_cell(value))
    _console(stream).print(table)


def _console(stream: TextIO) -> Console:
    """A console as wide as the terminal, or wide enough for a file or pipe."""
    width = None if stream.isatty() else FILE_WIDTH
    return Console(
        file=stream, width=width, highlight=False, soft_wrap=False, emoji=False, markup=False
    )


def write_rows(
    rows: Iterable[Row],
    model: type[Row],
    output: Format,
    stream: TextIO,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> int:
    """Write ``rows`` in ``output`` format; return how many were written."""
    if output is Format.JSONL:
        return write_jsonl(rows, stream)
    if output is Format.JSON:
        return write_json(rows, stream)
    if output in (Format.CSV, Format.CSV_RAW):
        return write_csv(rows, model, stream, neutralise=output is Format.CSV)
    return write_table(rows, columns or field_names(model), stream, title)
