"""client-audit query: answer a security team's questions from the projection database.

Output is a table on a terminal and JSON lines otherwise (``--format`` decides). JSON, JSON
lines and CSV stream every matching row, page by page, unless ``--limit`` caps them; a
table shows at most ``--limit`` rows (default 100) and says on stderr when there are more.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
import pydantic
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from client_audit.cli.context import settings_of
from client_audit.cli.params import INSTANT
from client_audit.output import Format, default_format, write_json, write_record, write_rows
from projections.db.engine import create_engine_for
from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialStatus
from projections.queries import (
    MAX_LIMIT,
    AnomalyFilter,
    AuditEntry,
    AuditPageRequest,
    CredentialFilter,
    CredentialPageRequest,
    CredentialRecord,
    Page,
    TrailFilter,
    UsesFilter,
    anomalies,
    audit_trail,
    credential_state,
    list_credentials,
    uses,
    walk,
)
from projections.queries.problems import problems_of
from schemas.models import DenialReason, EventType, UseOutcome

TABLE_LIMIT = 100
"""Rows a table shows when --limit is not given."""

AUDIT_COLUMNS = (
    "position", "occurredAt", "eventType", "credentialId", "userId", "actorId", "sequence",
    "sourceIp", "outcome", "denialReason", "anomalies",
)
CREDENTIAL_COLUMNS = (
    "credentialId", "userId", "status", "displayName", "scopedRoles", "allowSourceCidr",
    "expiresTime", "lastUsedAt", "anomalyCount",
)

Model = TypeVar("Model", bound=pydantic.BaseModel)


def _choice(values: type[Any]) -> click.Choice[str]:
    return click.Choice([member.value for member in values], case_sensitive=False)


def _window(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--to", "end", type=INSTANT,
                           help="Exclusive end, ISO-8601 with offset.")(command)
    return click.option("--from", "start", type=INSTANT,
                        help="Inclusive start, ISO-8601 with offset (e.g. 2026-03-03T10:00:00Z).")(
        command)


def _output(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--limit", type=click.IntRange(min=1),
                           help=f"Most rows to print [default: all; {TABLE_LIMIT} for a table].")(
        command)
    return click.option("--format", "output", type=_choice(Format),
                        help="table, json, jsonl, csv (formulas neutralised) or csv-raw "
                             "[default: table on a terminal, else jsonl].")(command)


def _option_name(parameter: str) -> str:
    if not parameter:
        return "query"
    kebab = "".join(f"-{char.lower()}" if char.isupper() else char for char in parameter)
    return f"--{kebab}"


def _build(model: type[Model], values: dict[str, Any]) -> Model:
    """Validate options into a filter; a refusal is a usage error naming the options."""
    given = {name: value for name, value in values.items() if value not in (None, ())}
    try:
        return model.model_validate(given)
    except pydantic.ValidationError as exc:
        listed = "; ".join(
            f"{_option_name(problem.parameter)}: {problem.message}" for problem in problems_of(exc)
        )
        raise click.UsageError(listed) from None


@contextmanager
def query_connection(ctx: click.Context) -> Iterator[Connection]:
    url = make_url(settings_of(ctx).database_url)
    shown = url.render_as_string(hide_password=True)
    in_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if in_file and not Path(str(url.database)).exists():
        raise click.ClickException(f"no database at {shown}; run `client-audit project` first")
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"could not query {shown}: {first}") from None
    finally:
        engine.dispose()


def emit_rows(
    fetch: Callable[[Any], Page[Model]],
    first: AuditPageRequest | CredentialPageRequest,
    model: type[Model],
    output: str | None,
    limit: int | None,
    columns: tuple[str, ...],
    title: str,
) -> None:
    stream = sys.stdout
    chosen = Format(output) if output else default_format(stream)
    if chosen is Format.TABLE:
        shown = limit or TABLE_LIMIT
        rows = list(walk(fetch, first, most=shown + 1))
        _guarded(lambda out: write_rows(rows[:shown], model, chosen, out, columns, title), stream)
        if len(rows) > shown:
            click.echo(f"(first {shown} rows shown; raise --limit, or use --format jsonl "
                       "for every row)", err=True)
        return
    _guarded(lambda out: write_rows(walk(fetch, first, most=limit), model, chosen, out), stream)


def _guarded(write: Callable[[TextIO], object], stream: TextIO) -> None:
    """Run ``write``; a reader that went away (``| head``) ends the output quietly."""
    try:
        write(stream)
        stream.flush()
    except BrokenPipeError:
        sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - stdout must stay writable at exit
        raise SystemExit(0) from None


def _audit_first() -> AuditPageRequest:
    return AuditPageRequest(limit=MAX_LIMIT)


@click.group()
def query() -> None:
    """Ask the projection database: trails, uses, denied uses, credentials, anomalies.

    Instants need an offset (Z or +hh:mm); --from is inclusive, --to exclusive. Rows come
    in audit-log order (position) or credential id order.
    """


@query.command()
@click.option("--credential-id", help="Only this credential.")
@click.option("--user-id", help="Only credentials of this owner.")
@click.option("--actor-id", help="Only events caused by this actor (user or system id).")
@click.option("--event-type", "event_types", multiple=True, type=_choice(EventType),
              help="Only these event types (repeatable).")
@_window
@_output
@click.pass_context
def trail(ctx: click.Context, credential_id: str | None, user_id: str | None,
          actor_id: str | None, event_types: tuple[str, ...], start: datetime | None,
          end: datetime | None, output: str | None, limit: int | None) -> None:
    """The audit trail of a credential, an owner or an actor (every filter given must match)."""
    query_filter = _build(TrailFilter, {
        "credentialId": credential_id, "userId": user_id, "actorId": actor_id,
        "eventType": event_types, "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(audit_trail, connection, query_filter), _audit_first(), AuditEntry,
              output, limit, AUDIT_COLUMNS, "audit trail")


def _uses_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--network", help="Only from this IPv4/IPv6 address or CIDR network."),
        click.option("--credential-id", help="Only this credential."),
        click.option("--user-id", help="Only credentials of this owner."),
        click.option("--reason", "reasons", multiple=True, type=_choice(DenialReason),
                     help="Only denials for these reasons (repeatable)."),
    )):
        command = option(command)
    return command


@query.command("uses")
@_uses_options
@click.option("--outcome", type=_choice(UseOutcome), help="ALLOWED or DENIED.")
@_window
@_output
@click.pass_context
def uses_command(ctx: click.Context, network: str | None, credential_id: str | None,
                 user_id: str | None, reasons: tuple[str, ...], outcome: str | None,
                 start: datetime | None, end: datetime | None, output: str | None,
                 limit: int | None) -> None:
    """Every use from an address or network (IPv4 networks also match IPv4-mapped IPv6)."""
    query_filter = _build(UsesFilter, {
        "network": network, "credentialId": credential_id, "userId": user_id,
        "reason": reasons, "outcome": outcome, "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(uses, connection, query_filter), _audit_first(), AuditEntry, output,
              limit, AUDIT_COLUMNS, "uses")


@query.command()
@_uses_options
@_window
@_output
@click.pass_context
def denied(ctx: click.Context, network: str | None, credential_id: str | None,
           user_id: str | None, reasons: tuple[str, ...], start: datetime | None,
           end: datetime | None, output: str | None, limit: int | None) -> None:
    """Every denied use, with its reason."""
    query_filter = _build(UsesFilter, {
        "network": network, "credentialId": credential_id, "userId": user_id,
        "reason": reasons, "outcome": UseOutcome.DENIED.value, "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(uses, connection, query_filter), _audit_first(), AuditEntry, output,
              limit, AUDIT_COLUMNS, "denied uses")


@query.command()
@click.option("--credential-id", help="Only this credential.")
@click.option("--user-id", help="Only credentials of this owner.")
@click.option("--status", type=_choice(CredentialStatus), help="active, expired or deleted.")
@click.option("--role", help="Only credentials holding this scoped role.")
@click.option("--expiring-before", type=INSTANT, help="Expiry before this instant.")
@click.option("--unused-since", type=INSTANT,
              help="No allowed use at or after this instant (never used included).")
@_window
@_output
@click.pass_context
def credentials(ctx: click.Context, credential_id: str | None, user_id: str | None,
                status: str | None, role: str | None,
                expiring_before: datetime | None, unused_since: datetime | None,
                start: datetime | None, end: datetime | None, output: str | None,
                limit: int | None) -> None:
    """Credentials by owner, status, scoped role, expiry and last use (--from/--to bound
    the creation instant)."""
    query_filter = _build(CredentialFilter, {
        "credentialId": credential_id, "userId": user_id, "status": status, "role": role,
        "expiringBefore": expiring_before,
        "unusedSince": unused_since, "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(list_credentials, connection, query_filter),
              CredentialPageRequest(limit=MAX_LIMIT), CredentialRecord, output, limit,
              CREDENTIAL_COLUMNS, "credentials")


@query.command("anomalies")
@click.option("--kind", "kinds", multiple=True, type=_choice(Anomaly),
              help="Only entries with any of these flags (repeatable) [default: any flag].")
@click.option("--credential-id", help="Only this credential.")
@click.option("--user-id", help="Only credentials of this owner.")
@_window
@_output
@click.pass_context
def anomalies_command(ctx: click.Context, kinds: tuple[str, ...], credential_id: str | None,
                      user_id: str | None, start: datetime | None, end: datetime | None,
                      output: str | None, limit: int | None) -> None:
    """Anomalies in a window: uses after deletion or expiry, outside allowed CIDRs,
    sequence gaps, ..."""
    query_filter = _build(AnomalyFilter, {
        "kind": kinds, "credentialId": credential_id, "userId": user_id,
        "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(anomalies, connection, query_filter), _audit_first(), AuditEntry,
              output, limit, AUDIT_COLUMNS, "anomalies")


@query.command()
@click.argument("credential_id")
@click.option("--history/--no-history", default=True, show_default=True,
              help="Also print the credential's audit entries.")
@click.option("--event-type", "event_types", multiple=True, type=_choice(EventType),
              help="Only these event types in the history (repeatable).")
@_window
@_output
@click.pass_context
def credential(ctx: click.Context, credential_id: str, history: bool,
               event_types: tuple[str, ...], start: datetime | None, end: datetime | None,
               output: str | None, limit: int | None) -> None:
    """One credential's current state and its full history.

    As a table: the state, then the history. As JSON: {"credential": …, "history": […]}
    (the default when stdout is not a terminal). JSON lines and CSV hold one kind of row,
    so they need --no-history (the state); use `query trail --credential-id` for the
    history alone.
    """
    query_filter = _build(TrailFilter, {
        "credentialId": credential_id, "eventType": event_types, "from": start, "to": end,
    })
    chosen = Format(output) if output else default_format(sys.stdout)
    if history and output is None and chosen is Format.JSONL:
        chosen = Format.JSON
    if history and chosen in (Format.JSONL, Format.CSV, Format.CSV_RAW):
        raise click.UsageError(
            f"--format {chosen.value} holds one kind of row: add --no-history for the state, "
            "or use `client-audit query trail --credential-id ID` for the history"
        )
    with query_connection(ctx) as connection:
        state = credential_state(connection, credential_id)
        if state is None:
            raise click.ClickException(f"no credential {credential_id!r} is known")
        fetch = partial(audit_trail, connection, query_filter)
        if not history:
            write_rows([state], CredentialRecord, chosen, sys.stdout, CREDENTIAL_COLUMNS)
        elif chosen is Format.JSON:
            _guarded(lambda out: _write_detail(state, walk(fetch, _audit_first(), limit), out),
                     sys.stdout)
        else:
            write_record(state, sys.stdout, title=f"credential {credential_id}")
            emit_rows(fetch, _audit_first(), AuditEntry, chosen.value, limit, AUDIT_COLUMNS,
                  "history")


def _write_detail(state: CredentialRecord, entries: Iterator[AuditEntry], out: TextIO) -> None:
    out.write('{"credential": ')
    out.write(state.model_dump_json())
    out.write(', "history": ')
    write_json(entries, out)
    out.write("}\n")
