"""client-audit verify: replay the topic into a scratch database, compare with the live one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import (
    Printed,
    format_option,
    opened,
    print_rows,
    reading,
    require_current_schema,
    require_sqlite_file,
    shown,
)
from client_audit.cli.replay import run_replay
from projections.bulk.owned import disown, make_owned, remove_abandoned
from projections.forensics.compare import Comparison, Difference, compare


class DifferenceRow(Printed):
    """One difference between the live projection and the replay."""

    subject: str
    key: str
    kind: str
    column: str | None
    live: Any
    replayed: Any


VERIFY_PREFIX = "client-audit-verify-"
"""The temporary scratch folder's name begins so."""

COLUMNS = ("subject", "key", "kind", "column", "live", "replayed")


def _row(difference: Difference) -> DifferenceRow:
    return DifferenceRow(
        subject=difference.subject.value,
        key=difference.key,
        kind=difference.kind.value,
        column=difference.column,
        live=difference.live,
        replayed=difference.replayed,
    )


@contextmanager
def _scratch(given: str | None, keep: bool) -> Iterator[str]:
    """The scratch database URL: the one given, or a SQLite file in a temporary folder.

    The folder is owned (:mod:`projections.bulk.owned`): those that verifies killed outright
    left in the temporary directory are removed first; a kept one is disowned.
    """
    if given is not None:
        yield given
        return
    temporary = Path(tempfile.gettempdir())
    remove_abandoned(temporary, VERIFY_PREFIX)
    try:
        folder = make_owned(temporary, VERIFY_PREFIX)
    except OSError as exc:
        raise click.ClickException(f"no scratch folder in {temporary}: {exc}") from None
    try:
        yield f"sqlite:///{folder / 'replay.db'}"
    finally:
        if keep:
            disown(folder)
            click.echo(f"scratch database kept at {folder / 'replay.db'}", err=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _summary(comparison: Comparison) -> str:
    lines = [
        f"compared {comparison.credentials_compared} credentials and "
        f"{comparison.audit_rows_compared} audit rows: "
        f"{len(comparison.differences)} differences"
    ]
    if comparison.credentials_skipped or comparison.audit_rows_skipped:
        lines.append(
            f"left out {comparison.credentials_skipped} credentials and "
            f"{comparison.audit_rows_skipped} audit rows beyond the positions both reached"
        )
    return "\n".join(lines)


@click.command()
@click.option("--scratch", metavar="URL",
              help="Empty database to replay into [default: a temporary SQLite file, removed "
                   "afterwards].")
@click.option("--keep", is_flag=True, help="Keep the temporary scratch database.")
@click.option("--batch-size", type=click.IntRange(min=1, max=100_000), default=5000,
              show_default=True, help="Most events applied in one database transaction.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.option("--max-differences", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Most differences printed (all are counted).")
@format_option
@click.pass_context
def verify(ctx: click.Context, scratch: str | None, keep: bool, batch_size: int, progress: bool,
           max_differences: int, output: str | None) -> None:
    """Replay the lifecycle topic into a scratch database and compare it with DATABASE_URL.

    Credentials are compared column by column, audit rows by event id on every column but
    position and projected_at. Prints each difference (credential id or event id, column,
    live value, replayed value; `missing`: only in the replay, `extra`: only live) and a
    summary on stderr; exits 1 when the two differ.
    """
    settings = settings_of(ctx)
    live_url = make_url(settings.database_url)
    require_sqlite_file(live_url, "live")
    require_current_schema(live_url, "live")
    with _scratch(scratch, keep) as scratch_url:
        outcome = run_replay(settings, scratch_url, batch_size=batch_size, progress=progress)
        if not outcome.complete:
            raise click.ClickException("replay interrupted; nothing compared")
        with reading(live_url, "live") as live, opened(scratch_url, "scratch") as engine, \
                engine.connect() as replayed:
            comparison = compare(live, replayed)
    shown_rows = (_row(difference) for difference in comparison.differences[:max_differences])
    print_rows(shown_rows, DifferenceRow, output, COLUMNS,
               title=f"{shown(live_url)} against a replay")
    click.echo(_summary(comparison), err=True)
    if len(comparison.differences) > max_differences:
        click.echo(f"(first {max_differences} differences shown)", err=True)
    if comparison.differences:
        sys.exit(1)
