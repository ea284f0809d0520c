"""client-audit emit: publish lifecycle events given as options or as JSON lines."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import IO, Any

import click

from client_audit.cli.context import settings_of
from client_audit.cli.kafka_wiring import open_publisher
from client_audit.cli.params import ACTOR, INSTANT
from producer.errors import ProducerError
from schemas.errors import InvalidEventError, Problem
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


def parse_lines(source: IO[str]) -> tuple[list[LifecycleEvent], list[tuple[int, str]]]:
    """Valid events in order, and (line number, reason) for every line that is not one."""
    events: list[LifecycleEvent] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            events.append(build_event(record))
        except json.JSONDecodeError as exc:
            bad.append((number, f"not JSON: {exc}"))
        except (InvalidEventError, ValueError) as exc:
            bad.append((number, str(exc)))
    return events, bad
