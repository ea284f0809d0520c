"""What the forensics commands share: the --format option, printing rows, opening databases."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import pydantic
from pydantic.alias_generators import to_camel
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from client_audit.output import Format, default_format, write_record, write_rows
from projections.db.engine import create_engine_for
from projections.db.migrate import current_revision, head_revision

Model = TypeVar("Model", bound=pydantic.BaseModel)


class Printed(pydantic.BaseModel):
    """A row the forensics commands print: frozen, camelCase names like the API."""

    model_config = pydantic.ConfigDict(
        frozen=True, alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


def format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--format table|json|jsonl|csv`` (default: a table on a terminal, else JSON lines)."""
    return click.option(
        "--format",
        "output",
        type=click.Choice([member.value for member in Format], case_sensitive=False),
        help="table, json, jsonl, csv (formulas neutralised) or csv-raw [default: table on a "
             "terminal, else jsonl].",
    )(command)


def chosen_format(output: str | None) -> Format:
    return Format(output.lower()) if output else default_format(sys.stdout)


def print_rows(
    rows: Iterable[Model],
    model: type[Model],
    output: str | None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> int | None:
    """Write rows to stdout in the chosen format; how many were written (None: the reader
    went away, as with ``| head``, and the rest was dropped quietly)."""
    try:
        written = write_rows(rows, model, chosen_format(output), sys.stdout, columns, title)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return None
    return written


def print_record(row: pydantic.BaseModel, output: str | None, title: str | None = None) -> None:
    """One summary row: a field/value table, or one JSON / JSON lines / CSV row."""
    chosen = chosen_format(output)
    if chosen is Format.TABLE:
        write_record(row, sys.stdout, title)
        return
    print_rows([row], type(row), output)


def database_url(value: str, option: str) -> URL:
    """A parsed database URL; a usage error naming ``option`` when it cannot be parsed."""
    try:
        return make_url(value)
    except ArgumentError:
        raise click.BadParameter(
            f"{value!r} is not a database URL (e.g. sqlite:///audit.db, "
            "postgresql+psycopg://user:password@host/database)",
            param_hint=option,
        ) from None


def shown(url: str | URL) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def require_sqlite_file(url: URL, what: str) -> None:
    """Refuse a SQLite URL whose file does not exist (opening it would create it)."""
    in_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if in_file and not Path(str(url.database)).exists():
        raise click.ClickException(f"no {what} database at {shown(url)}")


@contextmanager
def opened(url: str | URL, what: str) -> Iterator[Engine]:
    """An engine for ``url``; database errors become a one-line message naming ``what``."""
    engine = create_engine_for(url)
    try:
        yield engine
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"{what} database {shown(url)}: {first}") from None
    finally:
        engine.dispose()


@contextmanager
def reading(url: str | URL, what: str) -> Iterator[Connection]:
    """A connection to an existing projection database, for reading."""
    parsed = make_url(url)
    require_sqlite_file(parsed, what)
    require_current_schema(parsed, what)
    with opened(parsed, what) as engine, engine.connect() as connection:
        yield connection


def require_current_schema(url: str | URL, what: str) -> None:
    """Refuse a database that is not migrated to this version's schema."""
    rendered = make_url(url).render_as_string(hide_password=False)
    try:
        revision = current_revision(rendered)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"{what} database {shown(url)}: {first}") from None
    if revision != head_revision():
        found = "no schema" if revision is None else f"schema revision {revision}"
        raise click.ClickException(
            f"{what} database {shown(url)} has {found}, not {head_revision()}; "
            "run `client-audit project` (it migrates) first"
        )


def non_blank(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback refusing empty or blank text."""
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty or blank", param=param)
    return value


def instant_text(instant: datetime) -> str:
    """An instant as ISO-8601 UTC text with a Z."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
