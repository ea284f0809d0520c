#!/usr/bin/env python3
"""Check a client-audit evidence bundle with Python's standard library and `cryptography`.

    python3 check_bundle.py BUNDLE_DIR --public-key KEY.pem [--public-key OTHER.pem]

Follows "Checking a bundle by hand" in client-audit's docs/forensics.md, and imports
nothing of client-audit. Exit status 0 when every entry holds, 1 when one does not, 2 when
the bundle or a key cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root the audit path leads to (None: wrong length)."""
    if not 0 <= index < size:
        return None
    first, last, folded = index, size - 1, leaf
    for element in path:
        if last == 0:
            return None
        if first & 1 or first == last:
            folded = node(element, folded)
            while not first & 1 and first != 0:
                first >>= 1
                last >>= 1
        else:
            folded = node(folded, element)
        first >>= 1
        last >>= 1
    return folded if last == 0 else None


def canonical(value: object) -> bytes:
    """RFC 8785 text of an entry or checkpoint document (sorted ASCII keys, no spaces, no
    ASCII escapes, integers only: exactly what json.dumps writes so)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_checkpoint(
    raw: dict[str, Any], keys: dict[str, Ed25519PublicKey]
) -> tuple[dict[str, Any] | None, str]:
    body = raw["body"].encode("utf-8")
    signed = json.loads(body)
    if canonical(signed) != body or signed.get("format") != "client-audit/checkpoint/v1":
        return None, "the checkpoint body is not a canonical client-audit checkpoint"
    key = keys.get(signed["keyId"])
    if key is None:
        return None, f"the checkpoint is signed by key {signed['keyId']}, not a trusted one"
    try:
        key.verify(base64.b64decode(raw["signature"]), body)
    except InvalidSignature:
        return None, "the checkpoint's signature does not verify"
    return signed, ""


def check_entry(proof: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    problems: list[str] = []
    signed, why = check_checkpoint(proof["checkpoint"], keys)
    if signed is None:
        return [why]
    log = proof["log"]
    lines = [line for line in signed["logs"]
             if (line["topic"], line["partition"]) == (log["topic"], log["partition"])]
    if len(lines) != 1 or lines[0]["size"] != proof["treeSize"]:
        return ["the checkpoint does not sign the proof's tree size"]
    document = proof["document"].encode("utf-8")
    leaf = hashlib.sha256(b"\x00" + document).digest()
    if leaf.hex() != proof["leafHash"]:
        problems.append("leafHash is not SHA-256(0x00 || document)")
    path = [bytes.fromhex(element) for element in proof["auditPath"]]
    root = root_from_path(proof["leafIndex"], proof["treeSize"], leaf, path)
    if root is None or root.hex() != lines[0]["root"]:
        problems.append("the audit path does not lead to the signed root")
    entry, parsed = proof["entry"], json.loads(document)
    if canonical(parsed) != document or parsed.get("format") != "client-audit/audit-entry/v2":
        problems.append("the document is not a canonical v2 entry document")
    envelope = parsed["event"]["envelope"]
    shown = {
        "eventId": envelope["eventId"], "eventType": envelope["eventType"],
        "credentialId": envelope["credentialId"], "userId": envelope["userId"],
        "actorId": envelope["actor"]["id"], "sequence": envelope["sequence"],
        "sourceIp": parsed["event"].get("sourceIp"), "outcome": parsed["event"].get("outcome"),
        "denialReason": parsed["event"].get("denialReason"), "anomalies": parsed["anomalies"],
        "kafkaTopic": parsed["topic"], "kafkaPartition": parsed["partition"],
        "kafkaOffset": parsed["offset"], "leafIndex": proof["leafIndex"],
    }
    problems += [f"the entry shows {name} {entry.get(name)!r}, the document {value!r}"
                 for name, value in shown.items() if entry.get(name) != value]
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--public-key", type=Path, action="append", required=True)
    arguments = parser.parse_args(argv)
    keys: dict[str, Ed25519PublicKey] = {}
    try:
        for path in arguments.public_key:
            key = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"{path} is not an Ed25519 public key")
            keys[key_id(key)] = key
        lines = (arguments.bundle / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        print(f"cannot read the bundle or a key: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for number, line in enumerate(lines, start=1):
        proof = json.loads(line)
        try:
            problems = check_entry(proof, keys)
        except (KeyError, TypeError, ValueError) as exc:
            problems = [f"malformed proof: {exc!r}"]
        position = proof.get("entry", {}).get("position")
        if problems:
            failed += 1
            print(f"entry {number} (position {position}): DOES NOT HOLD: {'; '.join(problems)}")
        else:
            print(f"entry {number} (position {position}): holds")
    print(f"{len(lines) - failed} of {len(lines)} entries hold")
    return 0 if lines and not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
