"""client-audit replay: rebuild every projection from the lifecycle topic into a fresh database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import (
    Printed,
    database_url,
    format_option,
    print_record,
    shown,
)
from client_audit.cli.params import INSTANT, WorkerCount
from client_audit.cli.project_wiring import stop_on_signals
from client_audit.settings import Settings
from consumer.errors import ConsumerError
from consumer.replay import (
    Replay,
    ReplayOutcome,
    plan_replay,
    target_is_empty,
    unfinished_bulk_load,
)
from projections.db.engine import normalised_url
from projections.db.migrate import upgrade


class ReplaySummary(Printed):
    """What a replay did, as printed."""

    topic: str
    into: str
    since: datetime | None
    complete: bool
    applied: int
    duplicates_skipped: int
    refused: int
    anomalies: dict[str, int]
    seconds: float
    events_per_second: float
    start_offsets: dict[int, int]
    end_offsets: dict[int, int]
    positions: dict[int, int]


_CHATTY = ("consumer.projector", "projections.db.migrate")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s")


@contextmanager
def _bar(enabled: bool) -> Iterator[Progress]:
    """A progress bar on stderr; the projector's own progress lines are held back meanwhile."""
    quiet = [logging.getLogger(name) for name in _CHATTY] if enabled else []
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(),
        TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not enabled, transient=False,
    )
    try:
        with progress:
            yield progress
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def run_replay(
    settings: Settings,
    into: str,
    *,
    since: datetime | None = None,
    resume: bool = False,
    batch_size: int = 5000,
    progress: bool = True,
    live: bool = False,
    workers: int | None = None,
) -> ReplayOutcome:
    """Replay the lifecycle topic into the database at ``into``, with a progress bar on stderr.

    Refuses the live database (``DATABASE_URL``) and, unless ``resume``, a non-empty one;
    refuses to resume a bulk replay that did not finish. Into an empty database the replay
    is a bulk load unless ``live``; resumed, it goes through the live projector's store.
    """
    target = database_url(into, "--into")
    if normalised_url(target) == normalised_url(settings.database_url):
        raise click.UsageError(
            f"--into {shown(target)} is the live projection database (DATABASE_URL); "
            "replay into another one"
        )
    url = target.render_as_string(hide_password=False)
    try:
        if resume and unfinished_bulk_load(url) is not None:
            raise click.ClickException(
                f"{shown(target)} holds a bulk replay that did not finish (its states, chain "
                "heads and indexes were never written), which cannot be resumed; replay into "
                "a new empty database"
            )
        if not resume and not target_is_empty(url):
            raise click.ClickException(
                f"{shown(target)} already holds projections; replay into an empty database, "
                "or pass --resume to continue an interrupted replay into it"
            )
        plan = plan_replay(
            settings.kafka_bootstrap_servers, settings.lifecycle_topic, since,
            settings.delivery_timeout_s, settings.kafka_client_options(),
        )
        with _bar(progress) as bar:
            task = bar.add_task("replaying", total=plan.total)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            upgrade(url)
            replay = Replay(
                plan, settings.kafka_bootstrap_servers, url, batch_size=batch_size,
                timeout_s=settings.delivery_timeout_s, progress=advance,
                client_options=settings.kafka_client_options(), bulk=not (resume or live),
                workers=workers,
            )
            with stop_on_signals(replay):
                return replay.run()
    except ConsumerError as exc:
        raise click.ClickException(str(exc)) from None
    except KafkaError as exc:
        raise click.ClickException(f"Kafka error: {exc}") from None
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"database {shown(target)}: {first}") from None


def summary_of(outcome: ReplayOutcome, into: str, since: datetime | None) -> ReplaySummary:
    report = outcome.report
    return ReplaySummary(
        topic=outcome.plan.topic,
        into=shown(into),
        since=since,
        complete=outcome.complete,
        applied=report.applied,
        duplicates_skipped=report.duplicates,
        refused=outcome.refused,
        anomalies=dict(sorted(report.anomalies.items())),
        seconds=round(report.elapsed_s, 3),
        events_per_second=round(report.rate, 1),
        start_offsets=outcome.plan.start_offsets,
        end_offsets=outcome.plan.end_offsets,
        positions=outcome.positions,
    )


@click.command()
@click.option("--into", required=True, metavar="URL",
              help="SQLAlchemy URL of the (empty) database to build, e.g. sqlite:///replay.db.")
@click.option("--from", "since", type=INSTANT,
              help="Start at the first message of each partition whose Kafka timestamp is at "
                   "or after this instant (ISO-8601 with offset) [default: the beginning].")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted replay into the same database from its stored "
                   "positions instead of refusing a non-empty target.")
@click.option("--live", is_flag=True,
              help="Apply batch by batch through the live projector's store (indexes kept, "
                   "state written every batch) instead of the bulk load.")
@click.option("--workers", type=WorkerCount(64), default="auto", show_default=True,
              help="Processes sharing the partitions of a bulk replay (into SQLite, all but "
                   "one load into scratch files merged at the end); auto: one per processor, "
                   "at most one per partition, one below 50,000 messages (--live replays "
                   "use one).")
@click.option("--batch-size", type=click.IntRange(min=1, max=100_000), default=5000,
              show_default=True, help="Most events applied in one database transaction.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@format_option
@click.pass_context
def replay(ctx: click.Context, into: str, since: datetime | None, resume: bool, live: bool,
           workers: int | None, batch_size: int, progress: bool, output: str | None) -> None:
    """Rebuild the current-state table and audit log from the lifecycle topic into --into.

    Reads every partition without a consumer group (the projector's group and offsets are
    untouched), from the beginning or from --from, up to the end offsets seen at start,
    through the same projector and fold as `client-audit project`. Refused messages are
    counted, not dead-lettered again. Into an empty database it is a bulk load (states
    folded in memory, secondary indexes built at the end, states, chain heads and
    positions written once), with the same rows as the live projection. SIGINT/SIGTERM
    stop after the current batch; a --live replay continues with --resume, an unfinished
    bulk one is refused and replayed anew. Prints a summary; exits 1 when interrupted.
    """
    settings = settings_of(ctx)
    outcome = run_replay(settings, into, since=since, resume=resume, batch_size=batch_size,
                         progress=progress, live=live, workers=workers)
    print_record(summary_of(outcome, into, since), output, title="replay")
    if not outcome.complete:
        raise click.ClickException(
            "replay interrupted before the end offsets; "
            + ("run it again with --resume to continue" if live or resume
               else "the bulk load cannot be resumed: replay into a new empty database")
        )
