"""prove, verify-proof, export-evidence and keys on SQLite and PostgreSQL, and a bundle
checked with nothing of this project: the script shipped in it, and an independent one
written from docs/forensics.md, both run by a bare Python interpreter."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from client_audit.cli.main import cli as main_cli
from projections.chain.signing import SigningKey
from tests.builders_projection import History
from tests.integration.evidence_support import (
    TOPIC,
    apply_more,
    cli,
    history,
    public_key_file,
    seeded_with_checkpoints,
    sign_checkpoint,
)
from tests.seeding import seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def trusted(key: SigningKey, tmp_path: Path) -> Path:
    return public_key_file(key, tmp_path)


@pytest.fixture
def seeded(database_url: str, key: SigningKey) -> str:
    seeded_with_checkpoints(database_url, key)
    return database_url


def proof_of(url: str, *args: str) -> dict[str, Any]:
    result = cli(url, "prove", *args)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def verified(path: Path, *keys: Path) -> Any:
    options = [option for key in keys for option in ("--public-key", str(key))]
    return CliRunner().invoke(
        main_cli, ["verify-proof", str(path), *options], catch_exceptions=False
    )


def written(document: dict[str, Any], folder: Path, name: str = "proof.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


# --- inclusion proofs -------------------------------------------------------------------


def test_an_entry_proof_holds_and_says_what_it_checked(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    proof = proof_of(seeded, "--entry", "17")
    assert proof["format"] == "client-audit/inclusion-proof/v1"
    assert (proof["leafIndex"], proof["treeSize"]) == (5, 8)
    assert proof["log"] == {"topic": TOPIC, "partition": 1}
    assert len(proof["auditPath"]) == 3
    assert proof["entry"]["outcome"] == "DENIED"
    result = verified(written(proof, tmp_path), trusted)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("holds: ")
    assert "signed by" in result.output
    assert "1 of 1 proofs hold" in result.output


def test_an_entry_is_found_by_its_event_id(seeded: str) -> None:
    by_position = proof_of(seeded, "--entry", "17")
    event_id = by_position["entry"]["eventId"]
    assert proof_of(seeded, "--entry", event_id.upper())["leafHash"] == by_position["leafHash"]


def test_the_proof_is_written_to_a_file(seeded: str, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = cli(seeded, "prove", "--entry", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["leafIndex"] == 0
    assert f"wrote {out}" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--entry", "21"], 1, "no signed checkpoint covers entry 8 of t-evidence.lifecycle[1]"),
        (["--entry", "9999"], 1, "no audit entry at position 9999"),
        (["--entry", "'; drop table"], 1, "is neither a position (digits) nor an event id"),
        (["--entry", "  "], 2, "--entry"),
        ([], 2, "give exactly one of --entry and --consistency"),
        (["--entry", "1", "--consistency", "1", "2"], 2, "give exactly one"),
        (["--consistency", "3", "8"], 2, "needs --partition: t-evidence.lifecycle has 2 partition"),
        (["--consistency", "8", "3", "--partition", "1"], 1, "needs 0 < first <= second"),
        (["--consistency", "3", "50", "--partition", "1"], 1, "cannot prove 3 -> 50 entries"),
        (["--consistency", "1", "2", "--partition", "7"], 1, "[7] has no Merkle log"),
    ],
)
def test_a_proof_that_cannot_be_made_says_why(
    seeded: str, args: list[str], code: int, message: str
) -> None:
    result = cli(seeded, "prove", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_entry_that_no_longer_matches_its_hash_gets_no_proof(seeded: str) -> None:
    from tests.integration.forensics_support import execute

    execute(seeded, "UPDATE audit_log SET source_ip = '10.0.0.99' WHERE position = 17")
    result = cli(seeded, "prove", "--entry", "17")
    assert result.exit_code == 1
    assert "does not match its own hash" in result.output
    assert "run verify-log" in result.output


def _resign(proof: dict[str, Any]) -> None:
    proof["checkpoint"]["signature"] = base64.b64encode(
        SigningKey.generate().sign(proof["checkpoint"]["body"].encode())
    ).decode()


TAMPERINGS: dict[str, tuple[Any, str]] = {
    "shown outcome": (lambda p: p["entry"].update(outcome="ALLOWED"), "outcome"),
    "shown flags": (lambda p: p["entry"].update(anomalies=[]), "anomalies"),
    "shown payload": (lambda p: p["entry"]["payload"].update(sourceIp="10.0.0.1"), "payload"),
    "shown offset": (lambda p: p["entry"].update(kafkaOffset=4), "kafkaOffset"),
    "document": (
        lambda p: p.update(document=p["document"].replace("DENIED", "ALLOWED")),
        "leafHash",
    ),
    "audit path": (lambda p: p["auditPath"].reverse(), "root"),
    "leaf index": (lambda p: p.update(leafIndex=4), "root"),
    "tree size": (lambda p: p.update(treeSize=7), "does not sign 7 entries"),
    "signature": (_resign, "does not verify"),
    "checkpoint body": (
        lambda p: p["checkpoint"].update(
            body=p["checkpoint"]["body"].replace('"size":8', '"size":9')
        ),
        "checkpoint",
    ),
}


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_a_tampered_proof_does_not_hold(
    seeded: str, trusted: Path, tmp_path: Path, what: str
) -> None:
    proof = proof_of(seeded, "--entry", "17")
    change, named = TAMPERINGS[what]
    change(proof)
    result = verified(written(proof, tmp_path), trusted)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("DOES NOT HOLD")
    assert named in result.output.splitlines()[0]


def test_a_proof_checked_with_another_key_does_not_hold(seeded: str, tmp_path: Path) -> None:
    proof = proof_of(seeded, "--entry", "17")
    stranger = public_key_file(SigningKey.generate(), tmp_path)
    result = verified(written(proof, tmp_path), stranger)
    assert result.exit_code == 1
    assert "not a given key" in result.output


@pytest.mark.parametrize("content", ["", "[]", '{"format": "other"}', "\x00\xff"])
def test_a_file_that_is_not_a_proof_is_refused(tmp_path: Path, trusted: Path, content: str) -> None:
    path = tmp_path / "odd.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    result = verified(path, trusted)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert "not a JSON proof" in result.output or "not a proof of this service" in result.output


# --- consistency proofs ---------------------------------------------------------------


def test_a_consistency_proof_between_two_checkpoints_holds(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    proof = proof_of(seeded, "--consistency", "3", "8", "--partition", "1")
    assert (proof["firstSize"], proof["secondSize"]) == (3, 8)
    assert len(proof["checkpoints"]) == 2
    result = verified(written(proof, tmp_path), trusted)
    assert result.exit_code == 0, result.output
    proof["proof"][0] = "00" * 32
    assert verified(written(proof, tmp_path, "bad.json"), trusted).exit_code == 1


def test_a_topic_with_one_partition_log_needs_no_partition(
    sqlite_url: str, key: SigningKey, trusted: Path, tmp_path: Path
) -> None:
    seed(sqlite_url, history()[:9], topic=TOPIC, partitions=1)
    sign_checkpoint(sqlite_url, key)
    proof = proof_of(sqlite_url, "--consistency", "2", "9")
    assert proof["log"] == {"topic": TOPIC, "partition": 0}
    assert verified(written(proof, tmp_path), trusted).exit_code == 0


def test_a_consistency_proof_with_a_root_no_checkpoint_signed_does_not_hold(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    proof = proof_of(seeded, "--consistency", "3", "8", "--partition", "1")
    proof["secondRoot"] = "11" * 32
    result = verified(written(proof, tmp_path), trusted)
    assert result.exit_code == 1
    assert "DOES NOT HOLD" in result.output


# --- bundles ----------------------------------------------------------------------------


def export(url: str, folder: Path, *extra: str) -> Any:
    return cli(url, "export-evidence", "--credential", "cred-d", "--out", str(folder), *extra)


def test_a_bundle_holds_the_entries_their_proofs_the_checkpoints_and_keys(
    seeded: str, key: SigningKey, trusted: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    result = export(seeded, folder)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["entries"], summary["notCovered"]) == (8, 0)
    names = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert {
        "entries.jsonl",
        "manifest.json",
        "README.md",
        "check_bundle.py",
        f"public-keys/{key.key_id}.pem",
    } <= names
    assert any(name.startswith("checkpoints/") for name in names)
    lines = (folder / "entries.jsonl").read_text().splitlines()
    assert [json.loads(line)["entry"]["credentialId"] for line in lines] == ["cred-d"] * 8
    checked = verified(folder, trusted)
    assert checked.exit_code == 0, checked.output
    assert "8 of 8 proofs hold" in checked.output


def test_a_bundle_window_and_uncovered_entries_are_in_the_manifest(
    seeded: str, key: SigningKey, tmp_path: Path
) -> None:
    window = export(
        seeded, tmp_path / "w", "--from", "2026-03-03T10:03:00Z", "--to", "2026-03-03T10:05:00Z"
    )
    assert window.exit_code == 0, window.output
    assert json.loads(window.stdout)["entries"] == 2
    uncovered = cli(
        seeded, "export-evidence", "--credential", "cred-e", "--out", str(tmp_path / "e")
    )
    assert uncovered.exit_code == 1
    assert "no entry of credential 'cred-e' is covered by a signed checkpoint yet" in (
        uncovered.output
    )
    assert not (tmp_path / "e").exists() or not any((tmp_path / "e").iterdir())
    later = History("cred-f")
    apply_more(seeded, [later.created(), later.used("10.0.0.1")])
    sign_checkpoint(seeded, key)
    apply_more(seeded, [later.used("10.0.0.2")])
    partly = cli(seeded, "export-evidence", "--credential", "cred-f", "--out", str(tmp_path / "f"))
    assert partly.exit_code == 0, partly.output
    assert (json.loads(partly.stdout)["entries"], json.loads(partly.stdout)["notCovered"]) == (2, 1)
    assert "1 entries are not covered by a signed checkpoint yet" in partly.output
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["notCoveredPositions"] == [26]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-03-04T00:00:00Z", "--to", "2026-03-03T00:00:00Z"], "must be after"),
        (["--from", "yesterday"], "--from"),
    ],
)
def test_a_bundle_request_that_makes_no_sense_is_refused(
    seeded: str, tmp_path: Path, extra: list[str], message: str
) -> None:
    result = export(seeded, tmp_path / "b", *extra)
    assert result.exit_code == 2
    assert message in result.output


def test_a_bundle_is_never_written_over_other_files(seeded: str, tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = export(seeded, folder)
    assert result.exit_code == 2
    assert "is not empty" in result.output
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]


def test_a_bundle_with_an_entry_that_does_not_match_its_hash_is_not_made(
    seeded: str, tmp_path: Path
) -> None:
    """An altered entry is never left out quietly: the export fails and writes nothing."""
    from tests.integration.forensics_support import execute

    execute(seeded, "UPDATE audit_log SET outcome = 'ALLOWED' WHERE position = 14")
    folder = tmp_path / "bundle"
    result = export(seeded, folder)
    assert result.exit_code == 1
    assert "the entry at position 14 does not match its own hash" in result.output
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == [] or all(
        not path.name.startswith(".bundle") for path in tmp_path.iterdir()
    )


def bare_python(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a script isolated from this project: ``-I`` (no PYTHONPATH, no user site, no
    script folder magic beyond its own), a clean environment, from outside the checkout."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-I", str(script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_bundle_script_checks_it_with_nothing_of_this_project(
    seeded: str, key: SigningKey, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    assert export(seeded, folder).exit_code == 0
    elsewhere = tmp_path / "handed-over"
    shutil.copytree(folder, elsewhere)
    key_path = f"public-keys/{key.key_id}.pem"
    result = bare_python(
        elsewhere / "check_bundle.py", ".", "--public-key", key_path, cwd=elsewhere
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 of 8" in result.stdout + result.stderr
    entries = elsewhere / "entries.jsonl"
    lines = entries.read_text().splitlines()
    forged = json.loads(lines[3])
    forged["entry"]["outcome"] = "ALLOWED" if forged["entry"]["outcome"] == "DENIED" else "DENIED"
    lines[3] = json.dumps(forged)
    entries.write_text("\n".join(lines) + "\n")
    tampered = bare_python(
        elsewhere / "check_bundle.py", ".", "--public-key", key_path, cwd=elsewhere
    )
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "outcome" in tampered.stdout + tampered.stderr


INDEPENDENT_CHECK = r'''
"""Check one client-audit inclusion proof, following docs/forensics.md only."""
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key

proof = json.load(open(sys.argv[1], encoding="utf-8"))
public = load_pem_public_key(open(sys.argv[2], "rb").read())

# 1. The checkpoint: Ed25519 over the body's UTF-8 bytes.
body = proof["checkpoint"]["body"].encode("utf-8")
public.verify(base64.b64decode(proof["checkpoint"]["signature"]), body)
head = json.loads(body)
raw = public.public_bytes_raw()
assert head["keyId"] == hashlib.sha256(raw).hexdigest()[:16], "key id"
line = [l for l in head["logs"]
        if [l["topic"], l["partition"]] == [proof["log"]["topic"], proof["log"]["partition"]]][0]

# 2. The leaf: SHA-256(0x00 || document), the document being RFC 8785 text.
document = proof["document"].encode("utf-8")
parsed = json.loads(document)
assert json.dumps(parsed, sort_keys=True, separators=(",", ":"),
                  ensure_ascii=False).encode("utf-8") == document, "canonical"
leaf = hashlib.sha256(b"\x00" + document).digest()

# 3. The audit path to the signed root (RFC 9162, 2.1.3.2).
fn, sn, r = proof["leafIndex"], line["size"] - 1, leaf
for sibling in map(bytes.fromhex, proof["auditPath"]):
    assert sn != 0, "path too long"
    if fn & 1 or fn == sn:
        r = hashlib.sha256(b"\x01" + sibling + r).digest()
        while not fn & 1 and fn != 0:
            fn, sn = fn >> 1, sn >> 1
    else:
        r = hashlib.sha256(b"\x01" + r + sibling).digest()
    fn, sn = fn >> 1, sn >> 1
assert sn == 0 and r.hex() == line["root"], "root"

# 4. What the entry shows is what the document says.
entry, event = proof["entry"], parsed["event"]
assert entry["eventId"] == event["envelope"]["eventId"], "eventId"
assert entry.get("outcome") == event.get("outcome"), "outcome"
assert entry.get("sourceIp") == event.get("sourceIp"), "sourceIp"
assert entry["anomalies"] == parsed["anomalies"], "anomalies"
assert [entry["kafkaTopic"], entry["kafkaPartition"], entry["kafkaOffset"]] == [
    parsed["topic"], parsed["partition"], parsed["offset"]], "position"
print("holds:", entry["eventId"], "at", proof["leafIndex"], "of", line["size"])
'''


def test_an_independent_script_from_the_documentation_checks_a_proof(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    script = tmp_path / "independent.py"
    script.write_text(INDEPENDENT_CHECK)
    for position in ("2", "5", "17", "19", "20"):
        proof = written(proof_of(seeded, "--entry", position), tmp_path, f"p{position}.json")
        result = bare_python(script, str(proof), str(trusted), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("holds: ")
    forged = proof_of(seeded, "--entry", "17")
    forged["entry"]["outcome"] = "ALLOWED"
    result = bare_python(
        script, str(written(forged, tmp_path, "forged.json")), str(trusted), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "AssertionError: outcome" in result.stderr


# --- keys -------------------------------------------------------------------------------


def test_keys_generate_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    out = tmp_path / "signing.pem"
    result = CliRunner().invoke(main_cli, ["keys", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "-----BEGIN PUBLIC KEY-----" in result.stdout
    key = SigningKey.load(out)
    assert f"key id: {key.key_id}" in result.output
    shown = CliRunner().invoke(main_cli, ["keys", "show", "--key", str(out)])
    assert shown.exit_code == 0
    assert shown.stdout == result.stdout
    again = CliRunner().invoke(main_cli, ["keys", "generate", "--out", str(out)])
    assert again.exit_code == 2
    assert "refusing to overwrite a key" in again.output
    assert SigningKey.load(out).key_id == key.key_id


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "signing.pem"
    SigningKey.generate().write(out)
    out.chmod(0o644)
    result = CliRunner().invoke(main_cli, ["keys", "show", "--key", str(out)])
    assert result.exit_code == 2
    assert "readable by others (mode 0644)" in result.output


def test_a_public_key_is_not_a_signing_key(tmp_path: Path, trusted: Path) -> None:
    copy = tmp_path / "copy.pem"
    copy.write_bytes(trusted.read_bytes())
    copy.chmod(0o600)
    result = CliRunner().invoke(main_cli, ["keys", "show", "--key", str(copy)])
    assert result.exit_code == 2
    assert "not an unencrypted PEM private key" in result.output
