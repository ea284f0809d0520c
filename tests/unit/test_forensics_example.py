"""The worked example of docs/forensics.md ("Checking a bundle by hand"): every value in it
is what the service computes, and its script, run with bash, sha256sum and openssl only,
checks the proof."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.chain import checkpoints
from projections.chain.checkpoints import LogHead
from projections.chain.hashing import GENESIS_HASH, entry_document, entry_leaf, link_hash
from projections.chain.merkle import node_hash, prove_inclusion, root_of
from projections.chain.signing import SigningKey, public_pem
from schemas.models import (
    Actor,
    ActorKind,
    CredentialDeleted,
    CredentialUsed,
    DenialReason,
    EventType,
    UseOutcome,
)
from tests.unit.test_chain import TOPIC, envelope, used

DOCS = Path(__file__).resolve().parents[2] / "docs" / "forensics.md"
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
"""The secret key of RFC 8032's first Ed25519 test vector (public d75a9801...511a)."""


def example_documents() -> list[bytes]:
    denied = CredentialUsed(
        envelope=envelope(
            event_id=uuid.UUID("5f1e2d3c-4b5a-4697-8877-665544332211"), sequence=5,
            occurred_at=datetime(2026, 3, 3, 10, 2, tzinfo=UTC),
            recorded_at=datetime(2026, 3, 3, 10, 2, 0, 500000, tzinfo=UTC),
        ),
        source_ip="198.51.100.23", used_at=datetime(2026, 3, 3, 10, 2, tzinfo=UTC),
        outcome=UseOutcome.DENIED, denial_reason=DenialReason.OUTSIDE_ALLOWED_CIDRS,
    )
    deleted = CredentialDeleted(
        envelope=envelope(
            event_type=EventType.DELETED, sequence=6,
            event_id=uuid.UUID("9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d"),
            occurred_at=datetime(2026, 3, 3, 10, 3, tzinfo=UTC),
            recorded_at=datetime(2026, 3, 3, 10, 3, 0, 100000, tzinfo=UTC),
            actor=Actor(kind=ActorKind.SYSTEM, id="security-bot"),
        ),
        deleted_at=datetime(2026, 3, 3, 10, 3, tzinfo=UTC), reason="key reported lost",
    )
    return [
        entry_document(used(), ["NEW_SOURCE_IP"], TOPIC, 3, 41),
        entry_document(denied, ["USE_OUTSIDE_ALLOWED_CIDRS", "NEW_SOURCE_IP"], TOPIC, 3, 42),
        entry_document(deleted, [], TOPIC, 3, 43),
    ]


def script() -> str:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- worked-example:start -->\n```bash\n(.*?)```\n<!-- worked-example:end -->",
        text, re.DOTALL,
    )
    assert found is not None, "the worked example is marked in docs/forensics.md"
    return found.group(1)


def expected_values() -> dict[str, str]:
    documents = example_documents()
    leaves = [entry_leaf(document) for document in documents]
    nodes = {(0, index): leaf for index, leaf in enumerate(leaves)}
    nodes[(1, 0)] = node_hash(leaves[0], leaves[1])
    def fetch(wanted: object) -> dict[tuple[int, int], bytes]:
        return dict(nodes)

    root = root_of(3, fetch)
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SECRET)))
    made = checkpoints.signed(key, datetime(2026, 3, 3, 10, 5, tzinfo=UTC),
                              [LogHead(TOPIC, 3, 3, root)])
    path = prove_inclusion(1, 3, fetch)
    assert path == [leaves[0], leaves[2]]
    values = {f"document {index}": document.decode() for index, document in enumerate(documents)}
    values |= {f"leaf {index}": leaf.hex() for index, leaf in enumerate(leaves)}
    values |= {
        "chain hash": link_hash(GENESIS_HASH, documents[0]),
        "node": nodes[(1, 0)].hex(),
        "root": root.hex(),
        "key id": key.key_id,
        "public key": public_pem(key.public),
        "body": made.body.decode(),
        "signature": base64.b64encode(made.signature).decode(),
    }
    return values


def test_every_value_of_the_worked_example_is_what_the_service_computes() -> None:
    text = script()
    for name, value in expected_values().items():
        assert value in text, f"{name} of the worked example is not {value}"


def test_the_worked_example_checks_the_proof_with_sha256sum_and_openssl(tmp_path: Path) -> None:
    assert shutil.which("openssl"), "scripts/bootstrap.sh installs openssl"
    (tmp_path / "check.sh").write_text(script())
    result = subprocess.run(["bash", "check.sh"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    values = expected_values()
    assert result.stdout.splitlines() == [
        values["chain hash"], values["leaf 0"], values["leaf 1"], values["leaf 2"],
        values["node"], values["root"], values["key id"], "Signature Verified Successfully",
    ]
    commented = [line[2:].split()[0] for line in script().splitlines()
                 if line.startswith("# ") and re.fullmatch(r"[0-9a-f]{16,64}", line[2:].split()[0])]
    assert commented == result.stdout.splitlines()[:7], "the comments show what it prints"
