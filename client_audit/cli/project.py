"""client-audit project: run the projector that keeps the state table and audit log current."""

from __future__ import annotations

import json

import click

from client_audit.cli.context import settings_of
from client_audit.cli.project_wiring import run_projector
from client_audit.cli.project_workers import run_workers


@click.command()
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once the end offsets seen at start are applied (for demos, tests, catch-up).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=100_000),
    default=5000,
    show_default=True,
    help="Most events applied in one database transaction.",
)
@click.option("--group", help="Kafka consumer group [env CLIENT_AUDIT_CONSUMER_GROUP].")
@click.option(
    "--instance-id",
    help="Static group member id: a restarted projector keeps its partitions without a rebalance.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Projector processes in the group, each taking a share of the partitions.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    help="Serve Prometheus metrics on 127.0.0.1:PORT [env CLIENT_AUDIT_METRICS_PORT].",
)
@click.pass_context
def project(
    ctx: click.Context,
    /,
    until_caught_up: bool,
    batch_size: int,
    group: str | None,
    instance_id: str | None,
    workers: int,
    metrics_port: int | None,
) -> None:
    """Consume lifecycle events and project them into the current-state table and the audit log.

    Each batch's rows and the consumer positions commit in one database transaction, so a
    restart or crash never loses or doubles an event. Undecodable or invalid messages go to
    the dead-letter topic with the reason. SIGTERM/SIGINT finish the batch and exit 0.
    """
    settings = settings_of(ctx)
    if workers > 1:
        if metrics_port or settings.metrics_port:
            raise click.UsageError("--metrics-port serves one process; use it with --workers 1")
        report = run_workers(
            settings,
            workers,
            group_id=group or settings.consumer_group,
            instance_id=instance_id,
            until_caught_up=until_caught_up,
            batch_size=batch_size,
        )
    else:
        report = run_projector(
            settings,
            settings.database_url,
            group_id=group or settings.consumer_group,
            until_caught_up=until_caught_up,
            batch_size=batch_size,
            metrics_port=metrics_port or settings.metrics_port,
            instance_id=instance_id,
        )
    click.echo(
        json.dumps(
            {
                "applied": report.applied,
                "duplicatesSkipped": report.duplicates,
                "deadLettered": report.dead_lettered,
                "anomalies": dict(sorted(report.anomalies.items())),
                "seconds": round(report.elapsed_s, 3),
                "eventsPerSecond": round(report.rate, 1),
            },
            indent=2,
        )
    )
