"""client-audit verify-log: check the audit log's hash chains, and optionally the topic."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from client_audit.cli.context import settings_of
from client_audit.cli.evidence import load_checkpoint_files, load_keys
from client_audit.cli.forensics_io import Printed, format_option, print_rows, reading
from consumer.errors import ConsumerError
from consumer.log_check import PartitionCheck, check_against_topic
from projections.chain.access_verify import AccessChainVerdict, verify_access_chain
from projections.chain.checkpoint_verify import CheckpointFinding, verify_against_checkpoints
from projections.chain.heads import ReplacedChain, broken_before_upgrade
from projections.chain.records import VerificationRecord, record_verification
from projections.chain.verify import PartitionVerdict, verify_chains
from projections.db.engine import create_engine_for

INTACT = "intact"


class LogVerdict(Printed):
    """One partition's result of one check (``chain`` or ``kafka``), or the access log's
    (check ``access``: no topic or partition; offsets are its positions)."""

    check: str
    topic: str | None
    partition: int | None
    result: str
    rows: int
    messages: int | None
    last_offset: int | None
    head_hash: str | None
    offset: int | None
    position: int | None
    event_id: str | None
    detail: str | None
    checkpoint_id: int | None = None
    merkle_root: str | None = None


COLUMNS = (
    "check", "partition", "result", "rows", "lastOffset", "offset", "position", "eventId",
    "checkpointId", "detail",
)
"""Table columns (JSON and CSV hold every field)."""


def _chain_row(verdict: PartitionVerdict) -> LogVerdict:
    found = verdict.first_break
    return LogVerdict(
        check="chain",
        topic=verdict.topic,
        partition=verdict.partition,
        result=INTACT if found is None else found.problem.value,
        rows=verdict.rows,
        messages=None,
        last_offset=verdict.last_offset,
        head_hash=verdict.last_hash if found is None else None,
        offset=None if found is None else found.offset,
        position=None if found is None else found.position,
        event_id=None if found is None else found.event_id,
        detail=None if found is None else found.detail,
        merkle_root=verdict.merkle_root.hex(),
    )


def _checkpoint_row(found: CheckpointFinding) -> LogVerdict:
    return LogVerdict(
        check="checkpoint",
        topic=found.topic,
        partition=found.partition,
        result=found.finding.value,
        rows=found.size or 0,
        messages=None,
        last_offset=None,
        head_hash=None,
        offset=None,
        position=found.last_vouched_position,
        event_id=found.last_vouched_event_id,
        detail=found.detail + _vouched(found),
        checkpoint_id=found.checkpoint_id or None,
    )


def _vouched(found: CheckpointFinding) -> str:
    if found.last_vouched_index is None:
        return ""
    return (
        f"; the log diverges after entry {found.last_vouched_index} (position "
        f"{found.last_vouched_position}), the last an earlier checkpoint vouches for"
    )


def _replaced_row(replaced: ReplacedChain) -> LogVerdict:
    return LogVerdict(
        check="v1-chain",
        topic=replaced.topic,
        partition=replaced.partition,
        result="broken-before-upgrade",
        rows=replaced.length,
        messages=None,
        last_offset=None,
        head_hash=replaced.chain_hash,
        offset=replaced.first_break_offset,
        position=None,
        event_id=None,
        detail=(
            f"the v1 chain no longer held from offset {replaced.first_break_offset} when the "
            f"rows were re-hashed at {replaced.replaced_at.isoformat()} (revision 0004): the "
            "log was altered before the upgrade; compare with the topic (--against-kafka)"
        ),
    )


def _access_row(verdict: AccessChainVerdict) -> LogVerdict:
    found = verdict.first_break
    return LogVerdict(
        check="access",
        topic=None,
        partition=None,
        result=INTACT if found is None else found.problem.value,
        rows=verdict.rows,
        messages=None,
        last_offset=verdict.last_position,
        head_hash=verdict.last_hash if found is None else None,
        offset=None if found is None else found.offset,
        position=None if found is None else found.position,
        event_id=None,
        detail=None if found is None else found.detail,
    )


def _kafka_row(check: PartitionCheck) -> LogVerdict:
    found = check.first_mismatch
    return LogVerdict(
        check="kafka",
        topic=check.topic,
        partition=check.partition,
        result=INTACT if found is None else found.problem.value,
        rows=check.rows,
        messages=check.messages,
        last_offset=check.checked_below - 1 if check.checked_below else None,
        head_hash=None,
        offset=None if found is None else found.offset,
        position=None,
        event_id=None if found is None else found.event_id,
        detail=None if found is None else found.detail,
    )


@click.command("verify-log")
@click.option(
    "--against-kafka",
    is_flag=True,
    help="Also read the lifecycle topic and check every audit row against the message "
    "at its offset, and that every valid event there has a row.",
)
@click.option(
    "--checkpoints",
    "with_checkpoints",
    is_flag=True,
    help="Also check the log against every stored signed checkpoint, trusting only "
    "--public-key: forged or unknown-key checkpoints, truncation, divergence, "
    "forks and late entries.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted Ed25519 public key (PEM) for --checkpoints; repeat for several.",
)
@click.option(
    "--checkpoint-file",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A checkpoint kept outside the store (a file or a folder of them, as "
    "`project --checkpoint-dir` writes) for --checkpoints; repeatable. One "
    "missing from the store is reported.",
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Keep the outcome in the database (the console's integrity page shows the latest).",
)
@format_option
@click.pass_context
def verify_log(
    ctx: click.Context,
    against_kafka: bool,
    with_checkpoints: bool,
    public_keys: tuple[Path, ...],
    checkpoint_files: tuple[Path, ...],
    record: bool,
    output: str | None,
) -> None:
    """Check that the stored audit log was not altered: walk each partition's hash chain in
    offset order, recompute every row's hash (its entry document covers the event, its flags
    and its Kafka position), check that positions rise with offsets, rebuild the partition's
    Merkle log from the rows and hold it against the stored leaves and head, and report the
    first altered, removed, inserted or reordered row of each partition. The access log's
    chain is walked the same way (check `access`, in position order).

    With --checkpoints (and --public-key), also check the rows against every signed
    checkpoint, offline: a recomputed chain with recomputed heads no longer passes. Give
    the checkpoints kept elsewhere with --checkpoint-file, so that removing them from the
    store is seen too; with no valid checkpoint at all the check fails.

    With --against-kafka, also compare each row with the message at its offset on the topic
    (up to the projection's stored position). One row per partition and check; headHash is
    the chain hash of an intact partition's last row, worth recording elsewhere: a later
    run that ends on another hash for the same last offset means the log was rewritten.
    Exits 1 when anything does not hold. The outcome is recorded in the database unless
    --no-record (a database that cannot be written is reported, and the exit status stays).
    """
    if with_checkpoints and not public_keys:
        raise click.UsageError("--checkpoints needs --public-key (the keys you trust)")
    if (public_keys or checkpoint_files) and not with_checkpoints:
        raise click.UsageError("--public-key and --checkpoint-file go with --checkpoints")
    keys = load_keys(public_keys)
    outside = load_checkpoint_files(checkpoint_files)
    settings = settings_of(ctx)
    checked_at = datetime.now(UTC)
    with reading(settings.database_url, "projection") as connection:
        if with_checkpoints:
            report = verify_against_checkpoints(connection, keys, outside)
            verdicts = [_chain_row(verdict) for verdict in report.verdicts]
            verdicts += [_checkpoint_row(found) for found in report.findings]
        else:
            verdicts = [_chain_row(verdict) for verdict in verify_chains(connection)]
        verdicts += [_replaced_row(replaced) for replaced in broken_before_upgrade(connection)]
        verdicts.append(_access_row(verify_access_chain(connection)))
        if against_kafka:
            try:
                checks = check_against_topic(
                    connection, settings.kafka_bootstrap_servers, settings.lifecycle_topic,
                    settings.delivery_timeout_s, settings.kafka_client_options(),
                )
            except ConsumerError as exc:
                raise click.ClickException(str(exc)) from None
            verdicts += [_kafka_row(check) for check in checks]
    print_rows(verdicts, LogVerdict, output, COLUMNS, title="audit log verification")
    broken = [verdict for verdict in verdicts if verdict.result != INTACT]
    if record:
        _record(settings.database_url, VerificationRecord(
            checked_at, against_kafka, len(verdicts), len(broken),
            [verdict.model_dump(mode="json") for verdict in verdicts],
        ))
    click.echo(
        f"{len(verdicts) - len(broken)} of {len(verdicts)} partition checks intact"
        + (f"; {len(broken)} broken" if broken else ""),
        err=True,
    )
    if broken:
        sys.exit(1)


def _record(database_url: str, outcome: VerificationRecord) -> None:
    """Keep the outcome; a database that refuses the write is reported on stderr."""
    engine = create_engine_for(database_url)
    try:
        record_verification(engine, outcome)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        click.echo(f"the outcome was not recorded: {first}", err=True)
    finally:
        engine.dispose()
