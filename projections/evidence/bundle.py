"""An evidence bundle: a folder a third party can check without the database or Kafka.

``export`` writes, for one credential's entries (optionally within a time window):

- ``entries.jsonl``: one inclusion proof (:mod:`.proofs`) per entry a signed checkpoint
  covers, in position order;
- ``checkpoints/<id>.json``: each checkpoint the proofs use;
- ``public-keys/<key id>.pem``: the public key of each (compare its id with one obtained
  out of band: the bundle proves consistency with a key, not which key to trust);
- ``manifest.json``: what was asked, what is inside, which entries are not covered yet;
- ``README.md`` and ``check_bundle.py``: how to check it, and a script that does, using
  only Python's standard library and ``cryptography``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from projections.chain import checkpoints
from projections.chain.checkpoints import from_document
from projections.chain.hashing import instant_text
from projections.chain.verify import raw_columns
from projections.db.tables import audit_log
from projections.evidence.proofs import EvidenceError, NotCoveredError, inclusion_document

STANDALONE = Path(__file__).resolve().parent / "standalone"

README = """# Evidence bundle

Audit entries of credential `{credential}` recorded by client-audit, each with a proof that
it is in a partition's Merkle log whose root a checkpoint signed.

Check it with nothing but this folder and a public key you trust:

    python3 check_bundle.py . --public-key public-keys/<key id>.pem

(`pip install cryptography` first; the script imports nothing else outside Python's
standard library). Trust comes from the key: compare the key id `{keys}` with the one your
source published, not with the file in this folder.

What the script checks, as the service's documentation (docs/forensics.md, "Checking a
bundle by hand") describes: every checkpoint's Ed25519 signature over its body; that
`leafHash` is SHA-256 of 0x00 followed by the entry document; that the audit path leads
from that leaf to the signed root (RFC 9162 section 2.1.3.2); and that what the entry shows
is what the document says.

{count} entries; {skipped} entries of the request are not covered by a checkpoint yet and
are listed in manifest.json.
"""


@dataclass
class BundleSummary:
    folder: Path
    entries: int = 0
    skipped: list[int] = field(default_factory=list)
    checkpoint_ids: list[int] = field(default_factory=list)


def export(
    connection: Connection,
    credential_id: str,
    folder: Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> BundleSummary:
    """Write the bundle of ``credential_id``'s entries occurring in ``[start, end)``."""
    query = select(*raw_columns()).where(audit_log.c.credential_id == credential_id)
    if start is not None:
        query = query.where(audit_log.c.occurred_at >= start)
    if end is not None:
        query = query.where(audit_log.c.occurred_at < end)
    rows = connection.execute(query.order_by(audit_log.c.position)).mappings()
    if folder.exists() and any(folder.iterdir()):
        raise EvidenceError(f"{folder} is not empty")
    staging = folder.parent / f".{folder.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        summary = _write(connection, credential_id, staging, rows, start, end)
        if folder.exists():
            folder.rmdir()
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary.folder = folder
    return summary


def _write(
    connection: Connection,
    credential_id: str,
    folder: Path,
    rows: Iterable[RowMapping],
    start: datetime | None,
    end: datetime | None,
) -> BundleSummary:
    (folder / "checkpoints").mkdir()
    (folder / "public-keys").mkdir()
    summary = BundleSummary(folder)
    used: dict[int, dict[str, Any]] = {}
    ids = {
        found.body: found.checkpoint_id
        for found in checkpoints.stored(connection)
        if isinstance(found, checkpoints.Checkpoint)
    }
    seen = 0
    with (folder / "entries.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            seen += 1
            try:
                proof = inclusion_document(connection, row)
            except NotCoveredError:
                summary.skipped.append(row["position"])
                continue
            out.write(json.dumps(proof, ensure_ascii=False, sort_keys=True) + "\n")
            checkpoint = from_document(proof["checkpoint"])
            used[ids.get(checkpoint.body, 0)] = proof["checkpoint"]
            summary.entries += 1
    if not seen:
        raise EvidenceError(f"no audit entry of credential {credential_id!r} in that window")
    if summary.entries == 0:
        raise EvidenceError(
            f"no entry of credential {credential_id!r} is covered by a signed checkpoint yet"
        )
    keys = checkpoints.public_keys(connection)
    key_ids: set[str] = set()
    for checkpoint_id, document in sorted(used.items()):
        (folder / "checkpoints" / f"{checkpoint_id}.json").write_text(
            json.dumps(document, indent=2) + "\n", encoding="utf-8"
        )
        key_ids.add(from_document(document).key_id)
    for key_id in sorted(key_ids):
        if key_id in keys:
            (folder / "public-keys" / f"{key_id}.pem").write_text(keys[key_id], encoding="utf-8")
    summary.checkpoint_ids = sorted(used)
    _write_manifest(folder, credential_id, start, end, summary, sorted(key_ids))
    shutil.copyfile(STANDALONE / "check_bundle.py", folder / "check_bundle.py")
    (folder / "README.md").write_text(
        README.format(
            credential=credential_id,
            keys=", ".join(sorted(key_ids)),
            count=summary.entries,
            skipped=len(summary.skipped),
        ),
        encoding="utf-8",
    )
    return summary


def _write_manifest(
    folder: Path,
    credential_id: str,
    start: datetime | None,
    end: datetime | None,
    summary: BundleSummary,
    key_ids: Sequence[str],
) -> None:
    manifest = {
        "format": "client-audit/evidence-bundle/v1",
        "credentialId": credential_id,
        "from": None if start is None else instant_text(start),
        "to": None if end is None else instant_text(end),
        "exportedAt": instant_text(datetime.now(UTC)),
        "entries": summary.entries,
        "notCoveredPositions": summary.skipped,
        "checkpoints": summary.checkpoint_ids,
        "keyIds": list(key_ids),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
