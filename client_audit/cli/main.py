"""The client-audit command: emit, simulate, project, replay and query lifecycle events."""

from __future__ import annotations

import sys
from typing import Any

import click
import pydantic

from client_audit import logs
from client_audit.cli.context import CliContext
from client_audit.cli.registry import COMMANDS
from client_audit.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--bootstrap-servers", help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP_SERVERS].")
@click.option(
    "--topic", "lifecycle_topic", help="Lifecycle topic [env CLIENT_AUDIT_LIFECYCLE_TOPIC]."
)
@click.option("--dead-letter-topic", help="Dead-letter topic [env CLIENT_AUDIT_DEAD_LETTER_TOPIC].")
@click.option("--partitions", type=click.IntRange(min=1), help="Partitions for topics it creates.")
@click.option("--database-url", help="SQLAlchemy URL of the projection store [env DATABASE_URL].")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.pass_context
def cli(ctx: click.Context, /, verbose: bool, **overrides: Any) -> None:
    """Event-sourced audit of personal API client credentials on Apache Kafka.

    Settings come from environment variables (see README, "Configuration") and the
    options above, which take precedence.
    """
    logs.configure(verbose)
    given = {key: value for key, value in overrides.items() if value is not None}
    if "bootstrap_servers" in given:
        given["KAFKA_BOOTSTRAP_SERVERS"] = given.pop("bootstrap_servers")
    if "database_url" in given:
        given["DATABASE_URL"] = given.pop("database_url")
    try:
        settings = Settings(**given)
    except pydantic.ValidationError as exc:
        raise click.UsageError(f"invalid settings: {exc}") from None
    ctx.obj = CliContext(settings=settings)


for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    sys.exit(cli.main(prog_name="client-audit", standalone_mode=True))
