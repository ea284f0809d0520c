"""client-audit project: run the projector that keeps the state table and audit log current."""

from __future__ import annotations

import json
from pathlib import Path

import click

from client_audit.cli.context import settings_of
from client_audit.cli.project_wiring import run_projector
from client_audit.cli.project_workers import run_workers
from consumer.checkpointing import CheckpointPolicy


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
    help="Projector processes in the group, each taking a share of the partitions (each "
    "stops itself, as on SIGTERM, should this process be killed outright).",
)
@click.option(
    "--signing-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sign checkpoints with this Ed25519 key (`client-audit keys generate`) "
         "[env CLIENT_AUDIT_SIGNING_KEY].",
)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10_000,
              show_default=True, help="Sign a checkpoint after this many applied entries.")
@click.option("--checkpoint-seconds", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True,
              help="... or after this many seconds when entries were applied since the last.")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each checkpoint as a JSON file into this folder.")
@click.option(
    "--alerts", "alerts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Alerts file: rules, silences, webhooks, SIEM outputs [env CLIENT_AUDIT_ALERTS_CONFIG].",
)
@click.option(
    "--relay/--no-relay", default=True, show_default=True,
    help="Publish and deliver alerts from this process (--no-relay: `client-audit relay` does).",
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
    signing_key: Path | None,
    checkpoint_every: int,
    checkpoint_seconds: float,
    checkpoint_dir: Path | None,
    alerts_file: Path | None,
    relay: bool,
    metrics_port: int | None,
) -> None:
    """Consume lifecycle events and project them into the current-state table and the audit log.

    Each batch's rows and the consumer positions commit in one database transaction, so a
    restart or crash never loses or doubles an event. Undecodable or invalid messages go to
    the dead-letter topic with the reason. With --signing-key, signed checkpoints of the
    audit log's Merkle logs are stored, published to the checkpoints topic and optionally
    written to --checkpoint-dir. Every flagged entry becomes an alert in the same
    transaction; the relay publishes it to the alert topic (CloudEvents) and delivers it to
    the webhooks and SIEM outputs of --alerts. SIGTERM/SIGINT finish the batch and exit 0.
    """
    settings = settings_of(ctx)
    if alerts_file is not None:
        settings = settings.model_copy(update={"alerts_config": alerts_file})
    if signing_key is not None:
        settings = settings.model_copy(update={"signing_key": signing_key})
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    policy = CheckpointPolicy(checkpoint_every, checkpoint_seconds, checkpoint_dir)
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
            checkpoint_policy=policy,
            relay=relay,
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
            checkpoint_policy=policy,
            relay=relay,
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
