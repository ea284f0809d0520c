"""``python -m devservices``: start, stop, status and env of the local Kafka and PostgreSQL."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from devservices.errors import DevServiceError
from devservices.exports import export_lines
from devservices.services import SERVICES, Service, select
from devservices.state import STATE_DIR_ENV, resolve_state_dir

log = logging.getLogger("devservices")

_CHOICES = click.Choice([*SERVICES, "all"])
_NOT_RUNNING_EXIT = 3


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _emit(variables: Mapping[str, str]) -> None:
    for line in export_lines(variables):
        click.echo(line)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where data, logs and pid files live (default ${STATE_DIR_ENV} or <project>/.local).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, including the Kafka client.")
@click.pass_context
def cli(context: click.Context, state_dir: Path | None, verbose: bool) -> None:
    """Run a real single-node Apache Kafka and PostgreSQL locally, without Docker.

    Shell lines go to stdout, so this works:  eval "$(python -m devservices start all)"
    """
    _configure_logging(verbose)
    context.obj = resolve_state_dir(state_dir)


@cli.command()
@click.argument("service", type=_CHOICES, default="all")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for readiness.")
@click.pass_obj
def start(state_dir: Path, service: str, timeout: float | None) -> None:
    """Start SERVICE (or reuse it while it answers) and print its export lines.

    `all` is kafka and postgres; `kafka-secure` (a second broker with SASL/SCRAM and ACLs)
    starts only when named. Where KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL (or
    KAFKA_SECURE_BOOTSTRAP_SERVERS with the passwords) is already set, that service is not
    started and the existing values are printed.
    """
    for chosen in select(service):
        external = chosen.external()
        if external is not None:
            log.info("%s given by the environment, starting nothing", chosen.name)
            _emit(external)
            continue
        _emit(chosen.start(state_dir, timeout or chosen.ready_timeout_s))


@cli.command()
@click.argument("service", type=_CHOICES, default="all")
@click.pass_obj
def stop(state_dir: Path, service: str) -> None:
    """Stop SERVICE (`all`: every one, kafka-secure included); its data and ports are kept
    for the next start."""
    for chosen in select(service, every=True):
        chosen.stop(state_dir)


@cli.command()
@click.argument("service", type=_CHOICES, default="all")
@click.pass_obj
def status(state_dir: Path, service: str) -> None:
    """Show whether SERVICE runs and answers; exit 3 if one does not."""
    healthy = True
    for chosen in select(service, state_dir):
        current = chosen.status(state_dir)
        click.echo(current.describe())
        healthy = healthy and current.answering
    if not healthy:
        sys.exit(_NOT_RUNNING_EXIT)


@cli.command()
@click.argument("service", type=_CHOICES, default="all")
@click.pass_obj
def env(state_dir: Path, service: str) -> None:
    """Print export lines of running SERVICE instances (or of the environment's own)."""
    for chosen in select(service, state_dir):
        _emit(_variables_of(chosen, state_dir))


def _variables_of(chosen: Service, state_dir: Path) -> Mapping[str, str]:
    external = chosen.external()
    if external is not None:
        return external
    current = chosen.status(state_dir)
    if not current.running:
        log.warning(
            "%s is not running; start it with: python -m devservices start %s",
            chosen.name,
            chosen.name,
        )
    return current.variables


def main() -> None:
    """Console entry point: errors become one clear message and exit status 1."""
    try:
        cli.main(prog_name="python -m devservices", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except DevServiceError as error:
        log.error("%s", error)
        sys.exit(1)
