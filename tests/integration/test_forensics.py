"""verify, verify-log, as-of and roles on SQLite and PostgreSQL databases.

``verify`` and ``verify-log --against-kafka`` read a real Kafka topic (the ``stream`` and
``live`` fixtures); the chain-only ``verify-log``, ``as-of`` and ``roles`` read databases
seeded with ``ProjectionStore.apply`` and need no broker. Tampering is done directly in
SQL, as someone with write access to the database would.
"""

from __future__ import annotations

import json
import socket
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from client_audit.cli.verify import VERIFY_PREFIX
from projections.bulk.owned import OWNER_FILE
from projections.chain.hashing import entry_document, link_hash
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.rows import audit_row
from projections.db.tables import audit_log
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore
from schemas.models import LifecycleEvent
from tests.builders_projection import TOPIC, History
from tests.integration.forensics_support import execute, rows_of, run, scalar
from tests.integration.process_support import gone_pid
from tests.integration.projector_support import Topics, make_topics, project, publish_simulation
from tests.seeding import seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stream(kafka_bootstrap_servers: str) -> Topics:
    """A small simulated stream (40 credentials), published once for the module."""
    topics = make_topics(kafka_bootstrap_servers, f"t{uuid.uuid4().hex[:10]}")
    publish_simulation(topics, 40, seed=5)
    return topics


@pytest.fixture
def live(stream: Topics, database_url: str, unique_name: str) -> str:
    """The stream projected by the live projector into ``database_url``."""
    project(stream, database_url, group=unique_name)
    return database_url


def one(database_url: str, where: str) -> dict[str, Any]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            query = sa.select(audit_log).where(sa.text(where)).order_by(audit_log.c.position)
            return dict(connection.execute(query.limit(1)).one()._mapping)
    finally:
        engine.dispose()


# --- verify ---------------------------------------------------------------------------


def test_verify_finds_nothing_on_an_untouched_projection(stream: Topics, live: str) -> None:
    result = run(stream, live, "verify", "--no-progress", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "0 differences" in result.stderr


def test_verify_removes_the_folder_a_killed_verify_left_and_never_a_kept_one(
    stream: Topics, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = f"sqlite:///{tmp_path / 'live.db'}"
    project(stream, live, group=unique_name)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    left = temporary / f"{VERIFY_PREFIX}killed"
    left.mkdir()
    (left / "replay.db").write_bytes(b"\0" * 4096)
    (left / OWNER_FILE).write_text(f"{socket.gethostname()} {gone_pid()}\n", encoding="ascii")

    kept = run(stream, live, "verify", "--keep", "--no-progress", "--format", "json")

    assert kept.exit_code == 0, kept.stderr
    assert f"removed {left}" in kept.stderr and not left.exists()
    (folder,) = temporary.iterdir()
    assert f"scratch database kept at {folder / 'replay.db'}" in kept.stderr
    again = run(stream, live, "verify", "--no-progress", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert list(temporary.iterdir()) == [folder], "the kept folder stays, the new one went"
    assert (folder / "replay.db").exists()


def tamper_audit_column(database_url: str) -> tuple[str, str, str, str | None, Any]:
    row = one(database_url, "event_type = 'USED'")
    execute(
        database_url,
        "UPDATE audit_log SET source_ip = '203.0.113.66' WHERE event_id = :e",
        e=row["event_id"],
    )
    return "audit", row["event_id"], "changed", "source_ip", "203.0.113.66"


def tamper_state(database_url: str) -> tuple[str, str, str, str | None, Any]:
    credential = scalar(database_url, "SELECT min(credential_id) FROM credentials")
    execute(
        database_url,
        "UPDATE credentials SET display_name = 'nothing to see' WHERE credential_id = :c",
        c=credential,
    )
    return "credential", credential, "changed", "display_name", "nothing to see"


def delete_audit_row(database_url: str) -> tuple[str, str, str, str | None, Any]:
    row = one(database_url, "event_type = 'ROLES_SCOPED'")
    execute(database_url, "DELETE FROM audit_log WHERE event_id = :e", e=row["event_id"])
    return "audit", row["event_id"], "missing", None, None


@pytest.mark.parametrize("tampering", [tamper_audit_column, tamper_state, delete_audit_row])
def test_verify_reports_the_tampered_row(stream: Topics, live: str, tampering: Any) -> None:
    subject, key, kind, column, value = tampering(live)
    result = run(stream, live, "verify", "--no-progress", "--format", "jsonl")
    assert result.exit_code == 1, result.stderr
    (difference,) = rows_of(result)
    assert (difference["subject"], difference["key"], difference["kind"]) == (subject, key, kind)
    assert (difference["column"], difference["live"]) == (column, value)
    if kind == "changed":
        assert difference["replayed"] not in (None, value)
    assert "1 differences" in result.stderr


# --- verify-log -----------------------------------------------------------------------


def chain_rows(
    result_rows: list[dict[str, Any]], check: str = "chain"
) -> dict[int, dict[str, Any]]:
    return {row["partition"]: row for row in result_rows if row["check"] == check}


def test_verify_log_holds_on_an_untouched_log_also_against_kafka(stream: Topics, live: str) -> None:
    result = run(stream, live, "verify-log", "--against-kafka", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    verdicts = rows_of(result)
    assert {row["check"] for row in verdicts} == {"chain", "kafka", "access"}
    assert all(row["result"] == "intact" for row in verdicts)
    audit_rows = scalar(live, "SELECT count(*) FROM audit_log")
    assert sum(row["rows"] for row in verdicts if row["check"] == "chain") == audit_rows
    assert all(len(row["headHash"]) == 64 for row in verdicts if row["check"] == "chain")


def test_verify_log_against_kafka_names_the_altered_and_the_missing_row(
    stream: Topics, live: str
) -> None:
    altered = one(live, "kafka_partition = 1 AND kafka_offset = 2")
    payload = {**altered["payload"], "envelope": {**altered["payload"]["envelope"], "source": "x"}}
    engine = create_engine_for(live)
    try:
        with engine.begin() as connection:
            connection.execute(
                audit_log.update()
                .where(audit_log.c.event_id == altered["event_id"])
                .values(payload=payload, source="x")
            )
    finally:
        engine.dispose()
    removed = one(live, "kafka_partition = 2 AND kafka_offset = 3")
    execute(live, "DELETE FROM audit_log WHERE event_id = :e", e=removed["event_id"])

    result = run(stream, live, "verify-log", "--against-kafka", "--format", "jsonl")

    assert result.exit_code == 1
    verdicts = rows_of(result)
    chain, kafka = chain_rows(verdicts), chain_rows(verdicts, "kafka")
    assert (chain[1]["result"], chain[1]["offset"], chain[1]["eventId"]) == (
        "altered",
        2,
        altered["event_id"],
    )
    assert (chain[2]["result"], chain[2]["offset"]) == ("removed", 4)
    assert (kafka[1]["result"], kafka[1]["offset"]) == ("payload-mismatch", 2)
    assert "envelope.source" in kafka[1]["detail"]
    assert (kafka[2]["result"], kafka[2]["offset"], kafka[2]["eventId"]) == (
        "missing-row",
        3,
        removed["event_id"],
    )
    assert all(chain[p]["result"] == kafka[p]["result"] == "intact" for p in (0, 3, 4, 5))


def spaced_log(database_url: str) -> list[LifecycleEvent]:
    """A log on partition 0 at even offsets (odd ones went to the dead-letter topic)."""
    migrate.upgrade(database_url)
    h = History("cred-1")
    events: list[LifecycleEvent] = [
        h.created(),
        h.used("10.0.0.1"),
        h.roles_scoped("admin"),
        h.used("10.0.0.2"),
        h.deleted(),
    ]
    placed = [PositionedEvent(event, TOPIC, 0, 2 * index) for index, event in enumerate(events)]
    engine = create_engine_for(database_url)
    try:
        ProjectionStore(engine).apply(placed, {(TOPIC, 0): 2 * len(events)})
    finally:
        engine.dispose()
    return events


def insert_row(database_url: str, event: LifecycleEvent, offset: int, previous: str) -> None:
    row = audit_row(PositionedEvent(event, TOPIC, 0, offset), (), datetime.now(UTC))
    document = entry_document(event, [], TOPIC, 0, offset)
    row.update(previous_hash=previous, chain_hash=link_hash(previous, document), leaf_index=2)
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(audit_log.insert().values(**row))
    finally:
        engine.dispose()


def verify_log(database_url: str) -> tuple[int, dict[str, Any]]:
    topics = Topics("127.0.0.1:9", TOPIC, f"{TOPIC}.dlq")
    result = run(topics, database_url, "verify-log", "--format", "json")
    (verdict,) = [row for row in json.loads(result.stdout) if row["check"] == "chain"]
    return result.exit_code, verdict


def update_payload(database_url: str, offset: int, **changes: Any) -> None:
    row = one(database_url, f"kafka_offset = {offset}")
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                audit_log.update()
                .where(audit_log.c.position == row["position"])
                .values(payload={**row["payload"], **changes})
            )
    finally:
        engine.dispose()


def test_verify_log_detects_an_altered_payload(database_url: str) -> None:
    events = spaced_log(database_url)
    code, verdict = verify_log(database_url)
    assert (code, verdict["result"], verdict["rows"], verdict["lastOffset"]) == (0, "intact", 5, 8)
    update_payload(database_url, 4, scopedRoles=["reader"])
    code, verdict = verify_log(database_url)
    assert (code, verdict["result"], verdict["offset"]) == (1, "altered", 4)
    assert verdict["eventId"] == str(events[2].event_id)


def test_verify_log_detects_a_deleted_row(database_url: str) -> None:
    events = spaced_log(database_url)
    execute(database_url, "DELETE FROM audit_log WHERE kafka_offset = 4")
    code, verdict = verify_log(database_url)
    assert (code, verdict["result"], verdict["offset"]) == (1, "removed", 6)
    assert verdict["eventId"] == str(events[3].event_id)


@pytest.mark.parametrize("links", ["properly", "foreign"])
def test_verify_log_detects_a_row_inserted_in_the_middle(database_url: str, links: str) -> None:
    spaced_log(database_url)
    before = scalar(database_url, "SELECT chain_hash FROM audit_log WHERE kafka_offset = 2")
    forged = History("cred-1").used("10.6.6.6", sequence=3)
    insert_row(database_url, forged, 3, before if links == "properly" else "ab" * 32)
    code, verdict = verify_log(database_url)
    assert (code, verdict["result"], verdict["offset"]) == (1, "inserted", 3)
    assert verdict["eventId"] == str(forged.event_id)


# --- as-of and roles ------------------------------------------------------------------


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 3, hour, minute, tzinfo=UTC)


@pytest.fixture
def known_history(database_url: str) -> Iterator[str]:
    """Two credentials of alice and one of bob, with role changes, an expiry and a deletion."""
    a, b, c = (
        History("cred-a", user_id="alice"),
        History("cred-b", user_id="alice"),
        History("cred-c", user_id="bob"),
    )
    events: list[LifecycleEvent] = [
        a.created(scoped_roles=("admin",), expires_time=at(12), at=at(9)),
        b.created(scoped_roles=("reader",), at=at(9, 30)),
        a.roles_scoped("reader", at=at(10)),
        c.created(scoped_roles=("admin", "reader"), at=at(10, 30)),
        a.roles_scoped("admin", "reader", at=at(11)),
        a.expired(expires_time=at(12), at=at(12)),
        c.deleted(at=at(13)),
        b.roles_scoped("admin", at=at(14)),
    ]
    seed(database_url, events, topic=TOPIC)
    yield database_url


def forensic(database_url: str, *args: str) -> Any:
    return run(Topics("127.0.0.1:9", TOPIC, f"{TOPIC}.dlq"), database_url, *args)


def test_as_of_gives_every_credential_as_it_was(known_history: str) -> None:
    result = forensic(known_history, "as-of", "2026-03-03T10:30:00Z", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    found = {row["credentialId"]: row for row in rows_of(result)}
    assert set(found) == {"cred-a", "cred-b", "cred-c"}, "cred-c created at exactly 10:30"
    assert found["cred-a"]["scopedRoles"] == ["reader"]
    assert found["cred-a"]["lastSequence"] == 2
    assert found["cred-c"]["effectiveStatus"] == "active"
    before = forensic(known_history, "as-of", "2026-03-03T08:59:59Z", "--format", "json")
    assert (before.exit_code, before.stdout.strip()) == (0, "[]")
    assert "no matching credential existed" in before.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("--owner", "alice"), {"cred-a": "expired", "cred-b": "active"}),
        (("--role", "admin"), {"cred-a": "expired"}),
        (("--credential", "cred-c"), {"cred-c": "deleted"}),
        (("--owner", "bob", "--role", "reader"), {}),
    ],
)
def test_as_of_filters(
    known_history: str, arguments: tuple[str, ...], expected: dict[str, str]
) -> None:
    result = forensic(
        known_history, "as-of", "2026-03-03T13:00:00+00:00", *arguments, "--format", "jsonl"
    )
    assert result.exit_code == 0, result.stderr
    assert {row["credentialId"]: row["effectiveStatus"] for row in rows_of(result)} == expected


def test_roles_lists_every_interval_in_the_window(known_history: str) -> None:
    result = forensic(
        known_history,
        "roles",
        "--role",
        "admin",
        "--from",
        "2026-03-03T09:30:00Z",
        "--to",
        "2026-03-03T12:00:00Z",
        "--format",
        "jsonl",
    )
    assert result.exit_code == 0, result.stderr
    intervals = [
        (row["credentialId"], row["heldFrom"], row["heldUntil"], row["endedBy"])
        for row in rows_of(result)
    ]
    assert intervals == [
        ("cred-a", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z", "ROLES_SCOPED"),
        ("cred-a", "2026-03-03T11:00:00Z", None, None),
        ("cred-c", "2026-03-03T10:30:00Z", "2026-03-03T13:00:00Z", "DELETED"),
    ]
    held = {row["credentialId"]: row for row in rows_of(result)}
    assert held["cred-a"]["statusChanges"] == ["2026-03-03T12:00:00Z expired"]
    assert held["cred-c"]["userId"] == "bob"
    later = forensic(
        known_history,
        "roles",
        "--role",
        "admin",
        "--from",
        "2026-03-03T13:00:00Z",
        "--format",
        "csv",
    )
    assert later.exit_code == 0
    lines = later.stdout.splitlines()
    assert lines[0].startswith("role,credentialId,userId,clientId,heldFrom,heldUntil")
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["cred-a", "cred-b"]


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (("as-of", "2026-03-03T10:00:00"), 2, "has no UTC offset"),
        (("as-of", "tomorrow"), 2, "is not an ISO-8601 instant"),
        (("as-of",), 2, "Missing argument 'INSTANT'"),
        (("as-of", "2026-03-03T10:00:00Z", "--role", "  "), 2, "must not be empty or blank"),
        (("as-of", "2026-03-03T10:00:00Z", "--credential", "nope"), 1, "no events of credential"),
        (
            (
                "roles",
                "--role",
                "admin",
                "--from",
                "2026-03-03T10:00:00Z",
                "--to",
                "2026-03-03T09:00:00Z",
            ),
            2,
            "must be after --from",
        ),
        (("roles",), 2, "Missing option '--role'"),
        (("verify-log", "--format", "xml"), 2, "Invalid value for '--format'"),
    ],
)
def test_bad_input_gets_a_precise_message(
    known_history: str, arguments: tuple[str, ...], code: int, message: str
) -> None:
    result = forensic(known_history, *arguments)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_database_is_named(tmp_path: Any) -> None:
    result = forensic(f"sqlite:///{tmp_path / 'absent.db'}", "verify-log")
    assert result.exit_code == 1
    assert "no projection database at sqlite:///" in result.stderr
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("command", ["replay", "verify", "as-of", "roles", "verify-log"])
def test_every_command_has_help(command: str) -> None:
    result = forensic("sqlite://", command, "--help")
    assert result.exit_code == 0
    assert len(result.stdout.split("\n\n")[1]) > 40
