"""The client-audit command: emit, simulate, project, replay and query lifecycle events."""

from __future__ import annotations

import re
import sys
from typing import Any

import click
import pydantic
from pydantic_settings import SettingsError

from client_audit import logs
from client_audit.cli.context import CliContext
from client_audit.cli.registry import COMMANDS
from client_audit.settings import Settings, environment_name


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--bootstrap-servers", help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP_SERVERS].")
@click.option(
    "--topic", "lifecycle_topic", help="Lifecycle topic [env CLIENT_AUDIT_LIFECYCLE_TOPIC]."
)
@click.option("--dead-letter-topic", help="Dead-letter topic [env CLIENT_AUDIT_DEAD_LETTER_TOPIC].")
@click.option(
    "--checkpoint-topic", help="Signed checkpoints topic [env CLIENT_AUDIT_CHECKPOINT_TOPIC]."
)
@click.option("--alert-topic", help="Alert topic [env CLIENT_AUDIT_ALERT_TOPIC].")
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
    ctx.obj = CliContext(settings=load_settings(given))


OPTION_NAMES = {
    "kafka_bootstrap_servers": "--bootstrap-servers",
    "lifecycle_topic": "--topic",
    "dead_letter_topic": "--dead-letter-topic",
    "checkpoint_topic": "--checkpoint-topic",
    "alert_topic": "--alert-topic",
    "partitions": "--partitions",
    "database_url": "--database-url",
}


def load_settings(options: dict[str, Any]) -> Settings:
    """The settings from the environment and the given global options; a usage error (exit
    2) naming the option or variable at fault, never a traceback."""
    given = dict(options)
    if "bootstrap_servers" in given:
        given["KAFKA_BOOTSTRAP_SERVERS"] = given.pop("bootstrap_servers")
    if "database_url" in given:
        given["DATABASE_URL"] = given.pop("database_url")
    try:
        return Settings(**given)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            field = {
                "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
                "DATABASE_URL": "database_url",
            }.get(field, field)
            named = _source_of(field, options)
            problems.append(f"{named}: {error['msg'].removeprefix('Value error, ')}")
        raise click.UsageError("invalid settings: " + "; ".join(problems)) from None
    except SettingsError as exc:
        raise click.UsageError(f"invalid settings: {_settings_error(exc)}") from None


def _source_of(field: str, options: dict[str, Any]) -> str:
    option = OPTION_NAMES.get(field)
    key = "bootstrap_servers" if field == "kafka_bootstrap_servers" else field
    if option is not None and key in options:
        return option
    return environment_name(field)


def _settings_error(exc: SettingsError) -> str:
    """A variable pydantic-settings could not parse (e.g. not JSON), named."""
    text = str(exc)
    found = re.search(r'field "(\w+)"', text)
    if found is None:
        return text.splitlines()[0]
    return f"{environment_name(found.group(1))} is not valid JSON (e.g. '[\"token\"]')"


for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    sys.exit(cli.main(prog_name="client-audit", standalone_mode=True))
