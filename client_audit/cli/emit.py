"""client-audit emit: publish lifecycle events given as options or as JSON lines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import click

from client_audit.cli.context import settings_of
from client_audit.cli.kafka_wiring import open_publisher
from client_audit.cli.params import ACTOR, INSTANT
from producer.errors import ProducerError
from schemas.codec import EventCodec
from schemas.errors import EncodeError, InvalidEventError, Problem
from schemas.limits import EVENT_MAX_BYTES
from schemas.models import EVENT_CLASSES, EventType, LifecycleEvent


def build_event(record: dict[str, Any]) -> LifecycleEvent:
    """Validate one event record (Avro field names).

    eventId, recordedAt and correlationId are filled in when absent.
    """
    envelope = record.get("envelope")
    if not isinstance(envelope, dict):
        raise InvalidEventError("event", [Problem("envelope", "is required and must be an object")])
    try:
        event_type = EventType(str(envelope.get("eventType")))
    except ValueError:
        known = ", ".join(kind.value for kind in EventType)
        raise InvalidEventError(
            "event",
            [Problem("envelope.eventType", f"{envelope.get('eventType')!r} is not one of {known}")],
        ) from None
    now = datetime.now(UTC)
    envelope = {
        "eventId": str(uuid.uuid4()),
        "recordedAt": now,
        "correlationId": str(uuid.uuid4()),
    } | envelope
    return EVENT_CLASSES[event_type].from_record({**record, "envelope": envelope})


def _publish(ctx: click.Context, /, events: list[LifecycleEvent]) -> None:
    settings = settings_of(ctx)
    with open_publisher(settings) as publisher:
        try:
            publisher.publish_many(events)
        except ProducerError as exc:
            raise click.ClickException(str(exc)) from None
    for event in events:
        click.echo(
            json.dumps(
                {
                    "published": str(event.event_id),
                    "type": event.event_type.value,
                    "credentialId": event.credential_id,
                    "sequence": event.sequence,
                }
            )
        )


@click.group()
def emit() -> None:
    """Publish lifecycle events to the lifecycle topic (confirmed by Kafka before exit)."""


def envelope_options(command: Any) -> Any:
    options = [
        click.option("--credential-id", required=True, help="The credential's id (the Kafka key)."),
        click.option("--client-id", required=True, help="The OAuth2 client id."),
        click.option("--user-id", required=True, help="The owner's user id."),
        click.option(
            "--sequence", required=True, type=click.IntRange(min=1), help="Per-credential sequence."
        ),
        click.option(
            "--actor", type=ACTOR, help="KIND:ID that caused it [default user:<user-id>]."
        ),
        click.option("--occurred-at", type=INSTANT, help="When it happened [default now]."),
        click.option(
            "--source", default="client-audit-cli", show_default=True, help="Emitting component."
        ),
        click.option("--correlation-id", help="Correlation id [default a new UUID]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _envelope(event_type: EventType, options: dict[str, Any]) -> dict[str, Any]:
    occurred = options.pop("occurred_at") or datetime.now(UTC)
    envelope = {
        "eventType": event_type.value,
        "credentialId": options.pop("credential_id"),
        "clientId": options.pop("client_id"),
        "userId": options.pop("user_id"),
        "sequence": options.pop("sequence"),
        "occurredAt": occurred,
        "actor": options.pop("actor") or {"kind": "USER", "id": ""},
        "source": options.pop("source"),
    }
    if not envelope["actor"]["id"]:
        envelope["actor"] = {"kind": "USER", "id": envelope["userId"]}
    correlation = options.pop("correlation_id")
    if correlation:
        envelope["correlationId"] = correlation
    return envelope


def _emit_one(
    ctx: click.Context, /, event_type: EventType, options: dict[str, Any], payload: dict[str, Any]
) -> None:
    record = {"envelope": _envelope(event_type, options), **payload}
    try:
        event = build_event(record)
    except InvalidEventError as exc:
        raise click.BadParameter(str(exc)) from None
    _publish(ctx, [event])


@emit.command()
@envelope_options
@click.option("--display-name", help="Human name.")
@click.option("--role", "roles", multiple=True, help="A scoped role (repeat).")
@click.option(
    "--cidr", "cidrs", multiple=True, help="An allowed source CIDR, IPv4 or IPv6 (repeat)."
)
@click.option("--expires", type=INSTANT, help="Expiry instant.")
@click.pass_context
def created(
    ctx: click.Context,
    /,
    display_name: str | None,
    roles: tuple[str, ...],
    cidrs: tuple[str, ...],
    expires: datetime | None,
    **options: Any,
) -> None:
    """A credential was created with its initial state."""
    occurred = options.get("occurred_at") or datetime.now(UTC)
    options["occurred_at"] = occurred
    credential = {
        "id": options["credential_id"],
        "clientId": options["client_id"],
        "userId": options["user_id"],
        "displayName": display_name,
        "scopedRoles": list(roles),
        "allowSourceCidr": list(cidrs),
        "createdAt": occurred,
        "updatedAt": occurred,
        "expiresTime": expires,
    }
    _emit_one(ctx, EventType.CREATED, options, {"credential": credential})


@emit.command("roles-scoped")
@envelope_options
@click.option(
    "--role",
    "roles",
    multiple=True,
    help="A scoped role of the new full set (repeat; none = empty).",
)
@click.pass_context
def roles_scoped(ctx: click.Context, /, roles: tuple[str, ...], **options: Any) -> None:
    """The credential's scoped roles were replaced by a new full set."""
    _emit_one(ctx, EventType.ROLES_SCOPED, options, {"scopedRoles": list(roles)})


@emit.command()
@envelope_options
@click.option("--display-name", help="New display name.")
@click.option("--cidr", "cidrs", multiple=True, help="New allowed CIDR list (repeat).")
@click.option("--clear-cidrs", is_flag=True, help="Allow every source (empty CIDR list).")
@click.option("--expires", type=INSTANT, help="New expiry instant.")
@click.pass_context
def updated(
    ctx: click.Context,
    /,
    display_name: str | None,
    cidrs: tuple[str, ...],
    clear_cidrs: bool,
    expires: datetime | None,
    **options: Any,
) -> None:
    """Display name, allowed CIDRs and/or expiry changed."""
    payload: dict[str, Any] = {"displayName": display_name, "expiresTime": expires}
    if cidrs or clear_cidrs:
        payload["allowSourceCidr"] = list(cidrs)
    _emit_one(ctx, EventType.UPDATED, options, payload)


@emit.command()
@envelope_options
@click.option("--source-ip", required=True, help="IPv4 or IPv6 address it was used from.")
@click.option("--outcome", type=click.Choice(["allowed", "denied"]), required=True)
@click.option(
    "--reason",
    type=click.Choice(["outside-allowed-cidrs", "expired", "deleted"]),
    help="Denial reason (required when denied).",
)
@click.pass_context
def used(
    ctx: click.Context, /, source_ip: str, outcome: str, reason: str | None, **options: Any
) -> None:
    """The credential was presented from a source IP, and allowed or denied."""
    used_at = options.get("occurred_at") or datetime.now(UTC)
    options["occurred_at"] = used_at
    payload = {
        "sourceIp": source_ip,
        "usedAt": used_at,
        "outcome": outcome.upper(),
        "denialReason": reason.upper().replace("-", "_") if reason else None,
    }
    _emit_one(ctx, EventType.USED, options, payload)


@emit.command()
@envelope_options
@click.option("--expires-time", type=INSTANT, required=True, help="The expiry instant that passed.")
@click.pass_context
def expired(ctx: click.Context, /, expires_time: datetime, **options: Any) -> None:
    """The credential's expiry passed."""
    _emit_one(ctx, EventType.EXPIRED, options, {"expiresTime": expires_time})


@emit.command()
@envelope_options
@click.option("--reason", help="Why it was deleted.")
@click.pass_context
def deleted(ctx: click.Context, /, reason: str | None, **options: Any) -> None:
    """The credential was soft-deleted."""
    deleted_at = options.get("occurred_at") or datetime.now(UTC)
    options["occurred_at"] = deleted_at
    _emit_one(ctx, EventType.DELETED, options, {"deletedAt": deleted_at, "reason": reason})


@emit.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.pass_context
def jsonl(ctx: click.Context, /, source: IO[str]) -> None:
    """Publish events given as JSON lines (one event record per line; - for stdin).

    Each line is an object shaped like the event's Avro record, e.g.
    {"envelope": {"eventType": "USED", ...}, "sourceIp": "10.0.0.7", ...}.
    Bad lines are reported with their line number; the good ones are still published,
    and the exit status is 1 when any line was bad.
    """
    events, bad = parse_lines(source)
    for number, reason in bad:
        click.echo(f"line {number}: {reason}", err=True)
    if events:
        _publish(ctx, events)
    click.echo(f"published {len(events)} events; rejected {len(bad)} lines", err=True)
    if bad:
        ctx.exit(1)


LINE_MAX = 4 * EVENT_MAX_BYTES
"""Characters of one JSON line read (an event's JSON is larger than its Avro encoding)."""

NESTING_MAX = 32
"""Deepest nesting of JSON arrays and objects in a line (an event needs four)."""


def parse_lines(
    source: IO[str], codec: EventCodec | None = None
) -> tuple[list[LifecycleEvent], list[tuple[int, str]]]:
    """Valid events in order, and (line number, reason) for every line that is not one.

    A line longer than :data:`LINE_MAX` is reported and skipped without being held whole in
    memory; so is a line nested deeper than :data:`NESTING_MAX`, and an event larger than
    the contract's encoded size.
    """
    codec = codec or EventCodec()
    events: list[LifecycleEvent] = []
    bad: list[tuple[int, str]] = []
    for number, line, length in _bounded_lines(source):
        if line is None:
            bad.append((number, f"line of {length:,} characters is longer than the "
                                f"{LINE_MAX:,}-character limit"))
            continue
        if not line.strip():
            continue
        try:
            events.append(_parse_line(line, codec))
        except (InvalidEventError, EncodeError, ValueError) as exc:
            bad.append((number, str(exc)))
    return events, bad


def _parse_line(line: str, codec: EventCodec) -> LifecycleEvent:
    depth = _nesting(line)
    if depth > NESTING_MAX:
        raise ValueError(f"JSON nested {depth} deep; at most {NESTING_MAX} levels are read")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"JSON nested too deep (more than {NESTING_MAX} levels)") from None
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    event = build_event(record)
    codec.encode(event)
    return event


def _nesting(line: str) -> int:
    """The deepest bracket nesting outside JSON strings (an upper bound of the JSON's)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in line:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > NESTING_MAX:
                return deepest
        elif character in "]}":
            depth -= 1
    return deepest


def _bounded_lines(source: IO[str]) -> Iterator[tuple[int, str | None, int]]:
    """(number, line, length) of each line; the line is None when longer than LINE_MAX,
    and the rest of it is read and dropped in pieces."""
    number = 0
    while True:
        line = source.readline(LINE_MAX + 1)
        if not line:
            return
        number += 1
        if len(line) <= LINE_MAX or line.endswith("\n"):
            yield number, line, len(line)
            continue
        length = len(line)
        while not line.endswith("\n"):
            line = source.readline(LINE_MAX)
            if not line:
                break
            length += len(line)
        yield number, None, length
