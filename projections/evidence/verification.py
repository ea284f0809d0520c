"""Checking proofs and bundles with nothing but them and trusted public keys (pure).

An inclusion proof holds when: the checkpoint is well formed and its signature verifies
with a trusted key of its ``keyId``; it names the proof's log with the proof's tree size;
``leafHash`` is ``SHA-256(0x00 || document)``; the audit path leads from that leaf at
``leafIndex`` to the checkpoint's root (RFC 9162 2.1.3.2); the document is a v2 entry
document; and every fact the entry shows agrees with the document (the envelope, the use,
the payload, the flags, the Kafka position, the leaf index), its ``projectedAt`` not after
the checkpoint's time. A consistency proof holds when its path shows the first size's root a
prefix of the second's (RFC 9162 2.1.4.2) and every included checkpoint verifies and signs
the root it claims.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from projections.chain.checkpoints import Checkpoint, CheckpointFormatError, from_document
from projections.chain.hashing import ENTRY_FORMAT
from projections.chain.merkle import verify_consistency, verify_inclusion
from projections.chain.signing import verify_signature
from projections.evidence.proofs import CONSISTENCY_FORMAT, INCLUSION_FORMAT

INSTANT_FIELDS = frozenset(
    {"occurredAt", "recordedAt", "createdAt", "updatedAt", "lastUsedAt", "expiresTime",
     "deletedAt", "usedAt"}
)

Keys = Mapping[str, Ed25519PublicKey]


@dataclass
class Verification:
    """What was checked, and what did not hold (nothing: the evidence holds)."""

    subject: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def verify_document(document: Any, keys: Keys) -> Verification:
    """Check an inclusion or consistency proof document."""
    kind = document.get("format") if isinstance(document, dict) else None
    if kind == INCLUSION_FORMAT:
        return verify_inclusion_proof(document, keys)
    if kind == CONSISTENCY_FORMAT:
        return verify_consistency_proof(document, keys)
    return Verification("document", [f"not a proof of this service (format {kind!r})"])


def _checkpoint(raw: Any, keys: Keys, result: Verification) -> Checkpoint | None:
    try:
        checkpoint = from_document(raw)
    except CheckpointFormatError as exc:
        result.problems.append(f"checkpoint: {exc}")
        return None
    key = keys.get(checkpoint.key_id)
    if key is None:
        result.problems.append(f"checkpoint: signed with key {checkpoint.key_id}, not a given key")
        return None
    if not verify_signature(key, checkpoint.body, checkpoint.signature):
        result.problems.append(
            f"checkpoint: the signature does not verify with {checkpoint.key_id}"
        )
        return None
    result.checked.append(
        f"checkpoint of {checkpoint.time.isoformat()} signed by {checkpoint.key_id}"
    )
    return checkpoint


def verify_inclusion_proof(proof: dict[str, Any], keys: Keys) -> Verification:
    shown = proof.get("entry")
    entry: dict[str, Any] = shown if isinstance(shown, dict) else {}
    result = Verification(f"entry at position {entry.get('position')}")
    try:
        log = proof["log"]
        topic, partition = str(log["topic"]), int(log["partition"])
        index, size = int(proof["leafIndex"]), int(proof["treeSize"])
        document = str(proof["document"]).encode()
        leaf = bytes.fromhex(str(proof["leafHash"]))
        path = [bytes.fromhex(str(element)) for element in proof["auditPath"]]
    except (KeyError, TypeError, ValueError) as exc:
        result.problems.append(f"the proof is malformed: {exc!r}")
        return result
    checkpoint = _checkpoint(proof.get("checkpoint"), keys, result)
    if checkpoint is None:
        return result
    line = checkpoint.log(topic, partition)
    if line is None or line.size != size:
        result.problems.append(
            f"the checkpoint does not sign {size} entries of {topic}[{partition}]"
        )
        return result
    if hashlib.sha256(b"\x00" + document).digest() != leaf:
        result.problems.append("leafHash is not SHA-256(0x00 || document)")
    elif not verify_inclusion(index, size, leaf, path, line.root):
        result.problems.append(
            f"the audit path does not lead from leaf {index} to the signed root of {size}"
        )
    else:
        result.checked.append(f"entry {index} of {size} in {topic}[{partition}] is signed")
    result.problems += _entry_agrees(entry, document, topic, partition, index, checkpoint.time)
    return result


def _entry_agrees(
    entry: dict[str, Any], document: bytes, topic: str, partition: int, index: int,
    signed_at: datetime,
) -> list[str]:
    """What the shown entry says that its document does not."""
    try:
        parsed = json.loads(document)
        event, envelope = parsed["event"], parsed["event"]["envelope"]
    except (ValueError, KeyError, TypeError):
        return ["the document is not an entry document"]
    if parsed.get("format") != ENTRY_FORMAT:
        return [f"the document's format is {parsed.get('format')!r}, not {ENTRY_FORMAT}"]
    expected = {
        "eventId": envelope.get("eventId"), "eventType": envelope.get("eventType"),
        "credentialId": envelope.get("credentialId"), "clientId": envelope.get("clientId"),
        "userId": envelope.get("userId"), "actorKind": envelope.get("actor", {}).get("kind"),
        "actorId": envelope.get("actor", {}).get("id"),
        "correlationId": envelope.get("correlationId"), "source": envelope.get("source"),
        "sequence": envelope.get("sequence"), "sourceIp": event.get("sourceIp"),
        "outcome": event.get("outcome"), "denialReason": event.get("denialReason"),
        "anomalies": parsed.get("anomalies"), "kafkaTopic": parsed.get("topic"),
        "kafkaPartition": parsed.get("partition"), "kafkaOffset": parsed.get("offset"),
    }
    problems = [
        f"the entry shows {name} {entry.get(name)!r}, the signed document {value!r}"
        for name, value in expected.items() if entry.get(name) != value
    ]
    for name in ("occurredAt", "recordedAt"):
        if not _same_instant(entry.get(name), envelope.get(name)):
            problems.append(f"the entry shows {name} {entry.get(name)!r}, the document "
                            f"{envelope.get(name)!r}")
    if not _same_record(entry.get("payload"), event):
        problems.append("the entry's payload is not the signed event")
    if (topic, partition) != (parsed.get("topic"), parsed.get("partition")):
        problems.append("the document is of another log than the proof")
    if entry.get("leafIndex") != index:
        problems.append(f"the entry shows leafIndex {entry.get('leafIndex')!r}, the proof {index}")
    projected = _instant(entry.get("projectedAt"))
    if projected is None or projected > signed_at:
        problems.append(f"projectedAt {entry.get('projectedAt')!r} is not before the checkpoint")
    return problems


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _same_instant(first: Any, second: Any) -> bool:
    one, other = _instant(first), _instant(second)
    return one is not None and one == other


def _same_record(shown: Any, signed: Any, name: str | None = None) -> bool:
    """Whether a shown payload says what the signed record says (nulls left out, instants
    compared as instants)."""
    if isinstance(shown, dict) and isinstance(signed, dict):
        present = {key: value for key, value in shown.items() if value is not None}
        return present.keys() == signed.keys() and all(
            _same_record(present[key], signed[key], key) for key in present
        )
    if isinstance(shown, list) and isinstance(signed, list):
        return len(shown) == len(signed) and all(
            _same_record(a, b) for a, b in zip(shown, signed, strict=True)
        )
    if name in INSTANT_FIELDS:
        return _same_instant(shown, signed)
    return bool(shown == signed)


def verify_consistency_proof(proof: dict[str, Any], keys: Keys) -> Verification:
    result = Verification("consistency proof")
    try:
        log = proof["log"]
        topic, partition = str(log["topic"]), int(log["partition"])
        first, second = int(proof["firstSize"]), int(proof["secondSize"])
        first_root = bytes.fromhex(str(proof["firstRoot"]))
        second_root = bytes.fromhex(str(proof["secondRoot"]))
        path = [bytes.fromhex(str(element)) for element in proof["proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        result.problems.append(f"the proof is malformed: {exc!r}")
        return result
    result.subject = f"{topic}[{partition}]: {first} -> {second} entries"
    if verify_consistency(first, second, first_root, second_root, path):
        result.checked.append(f"{first} entries are a prefix of {second}")
    else:
        result.problems.append(f"the proof does not show {first} entries a prefix of {second}")
    signed = {first: first_root, second: second_root}
    for raw in proof.get("checkpoints", []):
        checkpoint = _checkpoint(raw, keys, result)
        line = None if checkpoint is None else checkpoint.log(topic, partition)
        if line is None or line.size not in signed:
            continue
        if line.root != signed[line.size]:
            result.problems.append(f"the checkpoint signs another root for {line.size} entries")
    return result


def verify_bundle(folder: Path, keys: Keys) -> list[Verification]:
    """Check every proof of an evidence bundle (``entries.jsonl``, one proof a line)."""
    results: list[Verification] = []
    try:
        lines = (folder / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return [Verification(str(folder), [f"cannot read the bundle's entries: {exc.strerror}"])]
    for number, line in enumerate(lines, start=1):
        try:
            document = json.loads(line)
        except ValueError:
            results.append(Verification(f"line {number}", ["not JSON"]))
            continue
        results.append(verify_document(document, keys))
    if not results:
        results.append(Verification(str(folder), ["the bundle holds no entries"]))
    return results
