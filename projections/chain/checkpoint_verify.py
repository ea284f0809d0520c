"""Checking the stored audit log against every signed checkpoint, offline (reads only).

Trust comes from the public keys given, never from the database. Each stored checkpoint's
signature is verified; every partition's Merkle log is rebuilt from its rows (one pass,
:mod:`projections.chain.verify`) and its root at each checkpoint's size compared with the
signed root. What is found, per checkpoint and partition:

- ``forged``: the signature does not verify; ``unknown-key``: no given key has its id;
  ``malformed``: the stored body is not a checkpoint;
- ``truncated``: the checkpoint covers more entries than the partition holds;
- ``diverged``: the rows do not give the signed root: an entry at or before the
  checkpoint's size was altered, removed, inserted or moved, or its flags changed; the
  finding names the last entry a matching checkpoint still vouches for;
- ``fork``: two valid checkpoints of one size with different roots, or an older checkpoint
  the rows no longer give while a newer one is given (history rewritten and signed again);
- ``late``: an entry was written (``projected_at``) after the first checkpoint that covers it;
- ``missing``: a valid checkpoint given from outside the store (a file, a copy of the
  checkpoints topic) is not in the store: it was removed;
- ``none``: no valid checkpoint at all, so nothing vouches for the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from projections.chain import checkpoints as stored_checkpoints
from projections.chain.checkpoints import Checkpoint, CheckpointFormatError
from projections.chain.signing import verify_signature
from projections.chain.verify import PartitionVerdict, verify_chains
from projections.model.positioned import PartitionKey


class Finding(StrEnum):
    INTACT = "intact"
    FORGED = "forged"
    UNKNOWN_KEY = "unknown-key"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    DIVERGED = "diverged"
    FORK = "fork"
    LATE = "late"
    MISSING = "missing"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CheckpointFinding:
    finding: Finding
    checkpoint_id: int | None
    topic: str | None = None
    partition: int | None = None
    size: int | None = None
    detail: str = ""
    last_vouched_index: int | None = None
    """The last entry (leaf index) a checkpoint the rows still give vouches for."""
    last_vouched_position: int | None = None
    last_vouched_event_id: str | None = None


@dataclass
class CheckpointReport:
    verdicts: list[PartitionVerdict]
    findings: list[CheckpointFinding] = field(default_factory=list)
    checked: int = 0
    """Valid checkpoints checked against the rows."""

    @property
    def intact(self) -> bool:
        return all(found.finding is Finding.INTACT for found in self.findings)


Given = Checkpoint | CheckpointFormatError


def verify_against_checkpoints(
    connection: Connection,
    keys: Mapping[str, Ed25519PublicKey],
    outside: Sequence[Given] = (),
) -> CheckpointReport:
    """Every stored checkpoint, and every one given from ``outside`` the store, held
    against ``keys`` and against the rows."""
    valid: list[Checkpoint] = []
    findings: list[CheckpointFinding] = []
    inside = stored_checkpoints.stored(connection)
    known = {(found.body, found.signature) for found in inside if isinstance(found, Checkpoint)}
    for found in [*inside, *outside]:
        if isinstance(found, CheckpointFormatError):
            findings.append(CheckpointFinding(Finding.MALFORMED, None, detail=str(found)))
            continue
        if found.checkpoint_id == 0 and (found.body, found.signature) in known:
            continue
        public = keys.get(found.key_id)
        if public is None:
            findings.append(
                CheckpointFinding(
                    Finding.UNKNOWN_KEY,
                    found.checkpoint_id,
                    detail=f"signed with key {found.key_id}, which none of the given keys is",
                )
            )
        elif not verify_signature(public, found.body, found.signature):
            findings.append(
                CheckpointFinding(
                    Finding.FORGED,
                    found.checkpoint_id,
                    detail=f"the signature does not verify with key {found.key_id}",
                )
            )
        else:
            valid.append(found)
            if found.checkpoint_id == 0:
                findings.append(
                    CheckpointFinding(
                        Finding.MISSING,
                        None,
                        size=sum(head.size for head in found.logs),
                        detail=f"the checkpoint of {found.time.isoformat()} signed by "
                        f"{found.key_id} is not in the store: it was removed",
                    )
                )
    sizes: dict[PartitionKey, set[int]] = {}
    deadlines: dict[PartitionKey, list[tuple[int, datetime]]] = {}
    for checkpoint in valid:
        for head in checkpoint.logs:
            log = (head.topic, head.partition)
            sizes.setdefault(log, set()).add(head.size)
            deadlines.setdefault(log, []).append((head.size, checkpoint.time))
    verdicts = verify_chains(connection, sizes, deadlines)
    by_key = {(verdict.topic, verdict.partition): verdict for verdict in verdicts}
    for log in sorted(sizes):
        findings += _partition_findings(log, by_key.get(log), valid)
    report = CheckpointReport(verdicts, findings, len(valid))
    if not valid:
        report.findings.append(
            CheckpointFinding(
                Finding.NONE,
                None,
                detail="no checkpoint signed by a given key: nothing vouches for the log",
            )
        )
    elif not findings:
        report.findings.append(
            CheckpointFinding(
                Finding.INTACT,
                None,
                detail=f"{len(valid)} checkpoints hold for the rows",
            )
        )
    return report


def _partition_findings(
    key: PartitionKey, verdict: PartitionVerdict | None, valid: list[Checkpoint]
) -> list[CheckpointFinding]:
    topic, partition = key
    rows = 0 if verdict is None else verdict.rows
    roots = {} if verdict is None else verdict.roots_at
    lines = [(checkpoint, checkpoint.log(topic, partition)) for checkpoint in valid]
    claims = [(checkpoint, head) for checkpoint, head in lines if head is not None]
    findings: list[CheckpointFinding] = []
    by_size: dict[int, bytes] = {}
    for checkpoint, head in claims:
        earlier = by_size.setdefault(head.size, head.root)
        if earlier != head.root:
            findings.append(
                CheckpointFinding(
                    Finding.FORK,
                    checkpoint.checkpoint_id,
                    topic,
                    partition,
                    head.size,
                    f"another checkpoint signed root {earlier.hex()[:16]}... for the same size",
                )
            )
    matching = [
        head.size for _cp, head in claims if head.size <= rows and roots.get(head.size) == head.root
    ]
    for checkpoint, head in claims:
        if head.size > rows:
            findings.append(
                CheckpointFinding(
                    Finding.TRUNCATED,
                    checkpoint.checkpoint_id,
                    topic,
                    partition,
                    head.size,
                    f"the checkpoint covers {head.size} entries; the partition holds {rows}",
                    *_vouched(verdict, matching, head.size),
                )
            )
        elif roots.get(head.size) != head.root:
            later_holds = any(size >= head.size for size in matching)
            kind = Finding.FORK if later_holds else Finding.DIVERGED
            detail = (
                f"signed root {head.root.hex()[:16]}... for {head.size} entries; the rows give "
                f"{roots.get(head.size, b'').hex()[:16]}..."
            )
            if kind is Finding.FORK:
                detail += "; a later checkpoint holds for the rows: history was re-signed"
            if verdict is not None and verdict.first_break is not None:
                detail += f"; first break: {verdict.first_break.detail}"
            findings.append(
                CheckpointFinding(
                    kind,
                    checkpoint.checkpoint_id,
                    topic,
                    partition,
                    head.size,
                    detail,
                    *_vouched(verdict, matching, head.size),
                )
            )
    if verdict is not None and verdict.late is not None:
        late = verdict.late
        findings.append(
            CheckpointFinding(
                Finding.LATE,
                None,
                topic,
                partition,
                late.index + 1,
                f"entry {late.index} (position {late.position}, event {late.event_id}) was written "
                f"at {late.projected_at.isoformat()}, after the checkpoint of "
                f"{late.deadline.isoformat()} that covers it",
            )
        )
    return findings


def _vouched(
    verdict: PartitionVerdict | None, matching: list[int], below: int
) -> tuple[int | None, int | None, str | None]:
    sizes = [size for size in matching if size < below]
    if verdict is None or not sizes:
        return None, None, None
    index = max(sizes) - 1
    position, event_id = verdict.positions.get(index, (None, None))
    return index, position, event_id
