"""client-audit prove, export-evidence, verify-proof: evidence a third party can check."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import non_blank, reading
from client_audit.cli.params import INSTANT
from client_audit.display import visible
from projections.chain import nodes
from projections.chain.checkpoints import Checkpoint, CheckpointFormatError, from_document
from projections.chain.signing import SigningKeyError, key_id, load_public_key
from projections.evidence import bundle
from projections.evidence.proofs import (
    EvidenceError,
    consistency_document,
    find_entry,
    inclusion_document,
)
from projections.evidence.verification import Verification, verify_bundle, verify_document


def public_keys_option(command: Any) -> Any:
    return click.option(
        "--public-key",
        "public_keys",
        multiple=True,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A trusted Ed25519 public key (PEM); repeat for several (key rotation).",
    )(command)


def load_keys(paths: tuple[Path, ...]) -> dict[str, Ed25519PublicKey]:
    """The given public keys by key id; a usage error naming a file that is not one."""
    found: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            key = load_public_key(path)
        except SigningKeyError as exc:
            raise click.BadParameter(str(exc), param_hint="--public-key") from None
        found[key_id(key)] = key
    return found


def load_checkpoint_files(paths: tuple[Path, ...]) -> list[Checkpoint | CheckpointFormatError]:
    """The checkpoints in the given files (or folders of ``*.json`` files, as the projector's
    ``--checkpoint-dir`` writes); one that is not a checkpoint as the error naming its file."""
    files = sorted(
        {
            found
            for path in paths
            for found in (sorted(path.glob("*.json")) if path.is_dir() else [path])
        }
    )
    loaded: list[Checkpoint | CheckpointFormatError] = []
    for path in files:
        try:
            loaded.append(from_document(json.loads(path.read_text(encoding="utf-8"))))
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--checkpoint-file"
            ) from None
        except (ValueError, CheckpointFormatError) as exc:
            loaded.append(CheckpointFormatError(f"{path}: {exc}"))
    return loaded


def _only_partition(connection: Connection, topic: str) -> int:
    """The partition of the topic's only Merkle log; a usage error when there are several."""
    found = sorted(partition for log_topic, partition in nodes.logs(connection)
                   if log_topic == topic)
    if len(found) != 1:
        shown = ", ".join(str(number) for number in found[:20]) or "none"
        raise click.UsageError(
            f"--consistency needs --partition: {visible(topic)} has {len(found)} partition "
            f"logs ({shown})"
        )
    return found[0]


def _write(document: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


@click.command()
@click.option(
    "--entry",
    "entry",
    callback=non_blank,
    metavar="POSITION|EVENT_ID",
    help="Prove one audit entry (by its position or its event id).",
)
@click.option(
    "--consistency",
    nargs=2,
    type=click.IntRange(min=1),
    metavar="OLD_SIZE NEW_SIZE",
    help="Prove that a partition's first OLD_SIZE entries are a prefix of its first "
    "NEW_SIZE (with --partition).",
)
@click.option("--partition", type=click.IntRange(min=0),
              help="The partition of --consistency (may be left out when the topic's audit "
                   "log has one partition).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the proof to this file [default: stdout].",
)
@click.pass_context
def prove(
    ctx: click.Context,
    entry: str | None,
    consistency: tuple[int, int] | None,
    partition: int | None,
    out: Path | None,
) -> None:
    """Write a JSON proof: an entry's audit path to the latest signed checkpoint that
    covers it (with the entry, its document and the checkpoint), or a consistency proof
    between two sizes of one partition's log (with the checkpoints that signed them).

    Check it with `client-audit verify-proof FILE --public-key KEY.pem`, or by hand as
    docs/forensics.md says.
    """
    if (entry is None) == (consistency is None):
        raise click.UsageError("give exactly one of --entry and --consistency")
    settings = settings_of(ctx)
    with reading(settings.database_url, "projection") as connection:
        try:
            if entry is not None:
                document = inclusion_document(connection, find_entry(connection, entry))
            else:
                assert consistency is not None
                if partition is None:
                    partition = _only_partition(connection, settings.lifecycle_topic)
                first, second = consistency
                document = consistency_document(
                    connection, settings.lifecycle_topic, partition, first, second
                )
        except EvidenceError as exc:
            raise click.ClickException(str(exc)) from None
    _write(document, out)


@click.command("export-evidence")
@click.option(
    "--credential",
    "credential_id",
    required=True,
    callback=non_blank,
    metavar="ID",
    help="The credential whose entries to export.",
)
@click.option("--from", "start", type=INSTANT, help="Only entries occurring at or after this.")
@click.option("--to", "end", type=INSTANT, help="Only entries occurring before this.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write the bundle to (created; must be empty if it exists).",
)
@click.pass_context
def export_evidence(
    ctx: click.Context, credential_id: str, start: datetime | None, end: datetime | None, out: Path
) -> None:
    """Write a self-contained evidence bundle of a credential's entries: each entry with
    its inclusion proof, the checkpoints and public keys they rest on, a manifest, a README
    and a checking script that needs only Python and `cryptography`."""
    if out.exists() and any(out.iterdir()):
        raise click.BadParameter(f"{out} is not empty", param_hint="--out")
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(f"must be after --from ({start.isoformat()})", param_hint="--to")
    settings = settings_of(ctx)
    with reading(settings.database_url, "projection") as connection:
        try:
            summary = bundle.export(connection, credential_id, out, start, end)
        except EvidenceError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "folder": str(summary.folder),
                "entries": summary.entries,
                "notCovered": len(summary.skipped),
                "checkpoints": summary.checkpoint_ids,
            },
            indent=2,
        )
    )
    if summary.skipped:
        click.echo(
            f"{len(summary.skipped)} entries are not covered by a signed checkpoint "
            "yet (see manifest.json)",
            err=True,
        )


@click.command("verify-proof")
@click.argument("evidence", type=click.Path(exists=True, path_type=Path))
@public_keys_option
def verify_proof(evidence: Path, public_keys: tuple[Path, ...]) -> None:
    """Check a proof file or an evidence bundle folder with nothing but it and trusted
    public keys (no database, no Kafka). Prints one line per proof; exits 1 when one does
    not hold."""
    keys = load_keys(public_keys)
    results: list[Verification]
    if evidence.is_dir():
        results = verify_bundle(evidence, keys)
    else:
        try:
            document = json.loads(evidence.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"{evidence} is not a JSON proof: {exc}", param_hint="EVIDENCE"
            ) from None
        results = [verify_document(document, keys)]
    for result in results:
        if result.holds:
            click.echo(f"holds: {result.subject}: {'; '.join(result.checked)}")
        else:
            click.echo(f"DOES NOT HOLD: {result.subject}: {'; '.join(result.problems)}")
    failed = sum(not result.holds for result in results)
    click.echo(f"{len(results) - failed} of {len(results)} proofs hold", err=True)
    if failed:
        sys.exit(1)
