"""client-audit relay, redeliver and query deliveries: alerts out of the outbox and to the
tools security teams run, and what each target answered."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from client_audit.cli.alert_wiring import alert_config_of, open_relay
from client_audit.cli.context import settings_of
from client_audit.cli.project_wiring import stop_on_signals
from client_audit.cli.query import query_connection
from client_audit.output import Format, default_format, write_rows
from projections.alerts.outbox import backfill_outbox
from projections.alerts.relaying import redeliver as make_pending
from projections.db.engine import create_engine_for, write_transaction
from projections.db.migrate import upgrade
from projections.queries.deliveries import DELIVERY_STATUSES, DeliveryAttempt, delivery_attempts

DELIVERY_COLUMNS = (
    "deliveryId", "alertId", "target", "status", "attempt", "at", "statusCode", "result",
    "durationMs", "nextAttemptAt",
)


@click.command()
@click.option(
    "--alerts", "alerts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Alerts file: rules, silences, webhooks, SIEM outputs [env CLIENT_AUDIT_ALERTS_CONFIG].",
)
@click.option("--until-idle", is_flag=True,
              help="Stop once the outbox is published and no delivery is due (scripts, tests).")
@click.option("--batch-size", type=click.IntRange(min=1, max=10_000), default=500,
              show_default=True, help="Most alerts published (or deliveries tried) at once.")
@click.option("--backfill", is_flag=True,
              help="First give every flagged entry without an alert its alert (a store "
                   "built by `replay`, which sends none), then relay them.")
@click.pass_context
def relay(
    ctx: click.Context, /, alerts_file: Path | None, until_idle: bool, batch_size: int,
    backfill: bool,
) -> None:
    """Publish the alert outbox to the alert topic and deliver alerts to webhooks and SIEMs.

    `project` runs a relay itself unless given --no-relay; run this one beside projectors
    that do not. Each alert goes to the topic once (a relay killed after the broker
    confirmed but before the outbox recorded it sends it again with the same ce_id).
    Deliveries are signed (Standard Webhooks), retried with backoff and jitter, and
    recorded: see `client-audit query deliveries`. SIGTERM/SIGINT stop it.
    """
    settings = settings_of(ctx)
    if alerts_file is not None:
        settings = settings.model_copy(update={"alerts_config": alerts_file})
    config = alert_config_of(settings)
    upgrade(settings.database_url)
    engine = create_engine_for(settings.database_url)
    if backfill:
        with write_transaction(engine) as connection:
            made = backfill_outbox(connection, config.rules, datetime.now(UTC))
        click.echo(f"{made} alerts made for flagged entries that had none", err=True)
    relaying = open_relay(settings, engine, config, batch_size)
    try:
        with stop_on_signals(relaying):
            if until_idle:
                relaying.finish()
            else:
                relaying.run()
    finally:
        relaying.close()
        engine.dispose()
    report = relaying.report
    click.echo(json.dumps({
        "published": report.published, "deliveriesMade": report.deliveries_made,
        "delivered": report.delivered, "toRetry": report.retried, "failed": report.failed,
    }, indent=2))


@click.command()
@click.argument("delivery_ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--all-failed", is_flag=True, help="Every failed delivery.")
@click.pass_context
def redeliver(ctx: click.Context, /, delivery_ids: tuple[int, ...], all_failed: bool) -> None:
    """Make failed deliveries pending again, due now: the given DELIVERY_IDS or
    --all-failed. The relay tries them on its next round; earlier attempts stay recorded."""
    if bool(delivery_ids) == all_failed:
        raise click.UsageError("give DELIVERY_IDS or --all-failed (one of the two)")
    settings = settings_of(ctx)
    engine = create_engine_for(settings.database_url)
    try:
        with write_transaction(engine) as connection:
            count = make_pending(
                connection, datetime.now(UTC), None if all_failed else set(delivery_ids)
            )
    finally:
        engine.dispose()
    click.echo(f"{count} deliveries pending again", err=True)
    if delivery_ids and count < len(set(delivery_ids)):
        raise click.ClickException(
            f"{len(set(delivery_ids)) - count} of the given deliveries are not failed ones"
        )


@click.command("deliveries")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), help="Only deliveries in it.")
@click.option("--target", help="Only deliveries to this webhook endpoint or SIEM output.")
@click.option("--alert-id", help="Only deliveries of this alert.")
@click.option("--credential-id", help="Only alerts about this credential.")
@click.option("--format", "output", type=click.Choice([f.value for f in Format]),
              help="table (default on a terminal), json, jsonl (default otherwise) or csv.")
@click.option("--limit", type=click.IntRange(min=1, max=1_000_000), help="At most this many rows.")
@click.pass_context
def deliveries(ctx: click.Context, status: str | None, target: str | None,
               alert_id: str | None, credential_id: str | None, output: str | None,
               limit: int | None) -> None:
    """Alert deliveries to webhooks and SIEMs: one row per attempt (when, the HTTP status,
    the answer or error, how long), with the delivery's status now (pending, delivered,
    failed) and its next attempt. `client-audit redeliver` retries failed ones."""
    stream = sys.stdout
    chosen = Format(output) if output else default_format(stream)
    with query_connection(ctx) as connection:
        rows = delivery_attempts(
            connection, status=status, target=target, alert_id=alert_id,
            credential_id=credential_id,
        )
        shown = (row for index, row in enumerate(rows) if limit is None or index < limit)
        write_rows(shown, DeliveryAttempt, chosen, stream,
                   DELIVERY_COLUMNS if chosen is Format.TABLE else None, "deliveries")
