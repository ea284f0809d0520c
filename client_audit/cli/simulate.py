"""client-audit simulate: publish a realistic, reproducible lifecycle stream."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from client_audit.cli.context import settings_of
from client_audit.cli.kafka_wiring import open_publisher
from client_audit.cli.params import INSTANT
from producer.errors import ProducerError
from producer.simulate import Simulation, SimulationConfig

BATCH = 2000


@click.command()
@click.option(
    "--credentials",
    "credentials",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="How many credentials to create.",
)
@click.option(
    "--events-per-credential",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Average lifecycle events per credential.",
)
@click.option(
    "--users",
    type=click.IntRange(min=1),
    help="Distinct owners [default credentials/4, at least 3].",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed; same seed, same stream."
)
@click.option(
    "--start", type=INSTANT, help="Instant of the first creation [default 2026-01-05T08:00Z]."
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.pass_context
def simulate(
    ctx: click.Context,
    /,
    credentials: int,
    events_per_credential: int,
    users: int | None,
    seed: int,
    start: datetime | None,
    progress: bool,
) -> None:
    """Publish a realistic stream: creations by several users, role re-scoping, uses from
    allowed and disallowed IPv4/IPv6 sources, expiry extensions, expiries, deletions and a
    sprinkling of anomalies. Prints a JSON summary on stdout."""
    settings = settings_of(ctx)
    config = SimulationConfig(
        credentials=credentials, events_per_credential=events_per_credential, users=users, seed=seed
    )
    if start is not None:
        config = SimulationConfig(**{**config.__dict__, "start": start})
    simulation = Simulation(config)
    estimate = credentials * events_per_credential
    stream = simulation.events()
    with open_publisher(settings) as publisher, _bar(progress) as bar:
        task = bar.add_task("publishing", total=estimate)
        while chunk := list(islice(stream, BATCH)):
            try:
                publisher.publish_many(chunk)
            except ProducerError as exc:
                raise click.ClickException(str(exc)) from None
            bar.update(task, advance=len(chunk))
        bar.update(task, total=simulation.summary.events, completed=simulation.summary.events)
    summary = simulation.summary
    click.echo(
        json.dumps(
            {
                "topic": settings.lifecycle_topic,
                "credentials": summary.credentials,
                "users": summary.users,
                "events": summary.events,
                "eventsByType": dict(sorted(summary.events_by_type.items())),
                "deniedUses": dict(sorted(summary.denied_uses.items())),
                "plantedAnomalies": dict(sorted(summary.planted_anomalies.items())),
                "ipv6Uses": summary.ipv6_uses,
            },
            indent=2,
        )
    )


def _bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )
