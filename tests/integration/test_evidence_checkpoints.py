"""verify-log --checkpoints on SQLite and PostgreSQL: every way of rewriting the stored log,
each covered up the way an attacker with the code and write access to the database would
(every chain hash, leaf index, Merkle node and head recomputed), so that plain verify-log
passes and only the signed checkpoints catch it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from projections.chain.signing import SigningKey
from projections.db.tables import audit_log, checkpoints
from tests.integration.evidence_support import (
    checkpoint_rows,
    cli,
    connected,
    public_key_file,
    results_of,
    seeded_with_checkpoints,
    sign_checkpoint,
    tamper_and_cover_up,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def trusted(key: SigningKey, tmp_path: Path) -> Path:
    """The public key file an investigator was given."""
    return public_key_file(key, tmp_path)


@pytest.fixture
def seeded(database_url: str, key: SigningKey) -> str:
    seeded_with_checkpoints(database_url, key)
    return database_url


def checked(url: str, trusted: Path, *extra: str) -> Any:
    return cli(
        url,
        "verify-log",
        "--checkpoints",
        "--public-key",
        str(trusted),
        "--format",
        "jsonl",
        *extra,
    )


def plain_verify_log_passes(url: str) -> None:
    result = cli(url, "verify-log", "--format", "jsonl")
    assert result.exit_code == 0, result.output


def row_of(connection: Connection, position: int) -> dict[str, Any]:
    return dict(
        connection.execute(sa.select(audit_log).where(audit_log.c.position == position))
        .mappings()
        .one()
    )


# --- intact ---------------------------------------------------------------------------


def test_an_untouched_log_holds_for_every_checkpoint(seeded: str, trusted: Path) -> None:
    result = checked(seeded, trusted)
    assert result.exit_code == 0, result.output
    [row] = checkpoint_rows(result)
    assert row["result"] == "intact"
    assert "2 checkpoints hold" in row["detail"]
    chains = [line for line in result.stdout.splitlines() if '"check":"chain"' in line]
    assert len(chains) == 2


def test_the_two_options_go_together(seeded: str, trusted: Path) -> None:
    result = cli(seeded, "verify-log", "--checkpoints")
    assert result.exit_code == 2
    assert "--checkpoints needs --public-key" in result.output
    result = cli(seeded, "verify-log", "--public-key", str(trusted))
    assert result.exit_code == 2
    assert "go with --checkpoints" in result.output


def test_a_file_that_is_not_a_public_key_is_refused(seeded: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    result = cli(seeded, "verify-log", "--checkpoints", "--public-key", str(bad))
    assert result.exit_code == 2
    assert "--public-key" in result.output and "not a PEM public key" in result.output


# --- altered, removed, inserted and moved entries --------------------------------------


def test_a_denied_use_turned_allowed_is_caught(seeded: str, trusted: Path) -> None:
    def allow(connection: Connection) -> None:
        row = row_of(connection, 17)
        payload = {**row["payload"], "outcome": "ALLOWED", "denialReason": None}
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position == 17)
            .values(payload=payload, outcome="ALLOWED", denial_reason=None)
        )

    tamper_and_cover_up(seeded, allow)
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["partition"], row["rows"]) == ("diverged", 1, 8)
    assert "the log diverges after entry 2 (position 8)" in row["detail"]
    assert row["position"] == 8


def test_flags_cleared_are_caught(seeded: str, trusted: Path) -> None:
    def clear(connection: Connection) -> None:
        connection.execute(
            audit_log.update()
            .where(audit_log.c.is_anomaly.is_(True))
            .values(anomalies=[], is_anomaly=False)
        )

    tamper_and_cover_up(seeded, clear)
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    rows = checkpoint_rows(result)
    assert {(row["result"], row["partition"]) for row in rows} == {("diverged", 0), ("diverged", 1)}
    assert len(rows) == 4, "both checkpoints of both partitions cover a flagged entry"


def test_a_deleted_entry_is_caught(seeded: str, trusted: Path) -> None:
    tamper_and_cover_up(
        seeded,
        lambda connection: connection.execute(audit_log.delete().where(audit_log.c.position == 14)),
    )
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    diverged, late = checkpoint_rows(result)
    assert (diverged["result"], diverged["partition"], diverged["rows"]) == ("diverged", 1, 8)
    assert diverged["position"] == 8
    # The first entry of the tail moved into what the checkpoint covers, after it was made.
    assert (late["result"], late["partition"]) == ("late", 1)
    assert "entry 7 (position 21" in late["detail"]


def test_an_inserted_entry_is_caught(seeded: str, trusted: Path) -> None:
    def insert(connection: Connection) -> None:
        forged = row_of(connection, 17)
        # Make room after position 17 and offset 5 of partition 1, as an insert must.
        for column in (audit_log.c.position, audit_log.c.kafka_offset):
            where = column > (17 if column is audit_log.c.position else 5)
            if column is audit_log.c.kafka_offset:
                where = where & (audit_log.c.kafka_partition == 1)
            connection.execute(audit_log.update().where(where).values({column.name: -column - 1}))
            connection.execute(audit_log.update().where(column < 0).values({column.name: -column}))
        event_id = "0f0f0f0f-0000-4000-8000-000000000001"
        payload = {
            **forged["payload"],
            "outcome": "ALLOWED",
            "denialReason": None,
            "sourceIp": "10.9.9.9",
            "envelope": {**forged["payload"]["envelope"], "eventId": event_id},
        }
        connection.execute(
            audit_log.insert().values(
                {
                    **forged,
                    "position": 18,
                    "kafka_offset": 6,
                    "event_id": event_id,
                    "payload": payload,
                    "outcome": "ALLOWED",
                    "denial_reason": None,
                    "source_ip": "10.9.9.9",
                    "anomalies": [],
                    "is_anomaly": False,
                }
            )
        )

    tamper_and_cover_up(seeded, insert)
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["partition"], row["rows"]) == ("diverged", 1, 8)
    assert row["position"] == 8


def test_two_entries_swapped_are_caught(seeded: str, trusted: Path) -> None:
    def swap(connection: Connection) -> None:
        first, second = row_of(connection, 11), row_of(connection, 14)
        for row, other in ((first, second), (second, first)):
            connection.execute(
                audit_log.update()
                .where(audit_log.c.event_id == row["event_id"])
                .values(position=-other["position"], kafka_offset=other["kafka_offset"] + 1000)
            )
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position < 0)
            .values(position=-audit_log.c.position, kafka_offset=audit_log.c.kafka_offset - 1000)
        )

    tamper_and_cover_up(seeded, swap)
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    assert [(row["result"], row["partition"]) for row in checkpoint_rows(result)] == [
        ("diverged", 1)
    ]


def test_positions_out_of_offset_order_fail_even_the_plain_check(seeded: str) -> None:
    """Swapping two rows' positions only (what `query trail` orders by) is seen without a
    checkpoint: within a partition, positions rise with offsets."""

    def swap_positions(connection: Connection) -> None:
        connection.execute(audit_log.update().where(audit_log.c.position == 11).values(position=-1))
        connection.execute(audit_log.update().where(audit_log.c.position == 14).values(position=11))
        connection.execute(audit_log.update().where(audit_log.c.position == -1).values(position=14))

    tamper_and_cover_up(seeded, swap_positions)
    result = cli(seeded, "verify-log", "--format", "jsonl")
    assert result.exit_code == 1
    assert '"result":"reordered"' in result.stdout
    assert '"partition":1' in result.stdout


def test_a_truncated_log_is_caught(seeded: str, trusted: Path) -> None:
    tamper_and_cover_up(
        seeded,
        lambda connection: connection.execute(
            audit_log.delete().where(
                audit_log.c.kafka_partition == 1, audit_log.c.kafka_offset >= 6
            )
        ),
    )
    plain_verify_log_passes(seeded)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["partition"], row["rows"]) == ("truncated", 1, 8)
    assert "covers 8 entries; the partition holds 6" in row["detail"]
    assert "diverges after entry 2" in row["detail"]


# --- checkpoints: forged, unknown, malformed, missing, forks ----------------------------


def test_a_checkpoint_with_a_changed_body_is_forged(seeded: str, trusted: Path) -> None:
    with connected(seeded) as connection:
        body = connection.execute(
            sa.select(checkpoints.c.body).where(checkpoints.c.checkpoint_id == 2)
        ).scalar_one()
        connection.execute(
            checkpoints.update()
            .where(checkpoints.c.checkpoint_id == 2)
            .values(body=body.replace('"size":8', '"size":5'))
        )
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["checkpointId"]) == ("forged", 2)


def test_a_checkpoint_by_an_unknown_key_is_reported(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    other = SigningKey.generate()
    sign_checkpoint(seeded, other)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["checkpointId"]) == ("unknown-key", 3)
    assert other.key_id in row["detail"]
    both = checked(seeded, trusted, "--public-key", str(public_key_file(other, tmp_path)))
    assert both.exit_code == 0, both.output


def test_a_malformed_checkpoint_is_reported(seeded: str, trusted: Path) -> None:
    with connected(seeded) as connection:
        connection.execute(
            checkpoints.update().where(checkpoints.c.checkpoint_id == 1).values(body="{}")
        )
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    assert results_of(result) == {"malformed"}


def test_history_rewritten_and_signed_again_is_a_fork(
    seeded: str, key: SigningKey, trusted: Path
) -> None:
    """The key signs whatever the store holds: a rewrite followed by a new checkpoint of
    the same sizes gives two checkpoints of one size with different roots."""

    def allow(connection: Connection) -> None:
        row = row_of(connection, 17)
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position == 17)
            .values(
                payload={**row["payload"], "outcome": "ALLOWED", "denialReason": None},
                outcome="ALLOWED",
                denial_reason=None,
            )
        )

    tamper_and_cover_up(seeded, allow)
    with connected(seeded) as connection:
        connection.execute(
            audit_log.delete().where(
                audit_log.c.kafka_partition == 1, audit_log.c.kafka_offset >= 8
            )
        )
    tamper_and_cover_up(seeded, lambda _connection: None)
    sign_checkpoint(seeded, key)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    rows = checkpoint_rows(result)
    assert {row["result"] for row in rows} == {"fork"}
    assert any("same size" in row["detail"] for row in rows)
    assert any("history was re-signed" in row["detail"] for row in rows)


def test_a_new_checkpoint_not_consistent_with_an_older_one_is_a_fork(
    seeded: str, key: SigningKey, trusted: Path
) -> None:
    def allow(connection: Connection) -> None:
        row = row_of(connection, 5)
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position == 5)
            .values(
                payload={**row["payload"], "outcome": "ALLOWED", "denialReason": None},
                outcome="ALLOWED",
                denial_reason=None,
            )
        )

    tamper_and_cover_up(seeded, allow)
    sign_checkpoint(seeded, key)
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    rows = checkpoint_rows(result)
    assert [(row["result"], row["checkpointId"]) for row in rows] == [("fork", 1), ("fork", 2)]


def test_an_entry_written_after_the_checkpoint_that_covers_it_is_late(
    seeded: str, trusted: Path
) -> None:
    with connected(seeded) as connection:
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position == 8)
            .values(projected_at=datetime.now(UTC) + timedelta(hours=1))
        )
    result = checked(seeded, trusted)
    assert result.exit_code == 1
    [row] = checkpoint_rows(result)
    assert (row["result"], row["partition"]) == ("late", 1)
    assert "entry 2 (position 8" in row["detail"]


def test_checkpoints_removed_from_the_store_are_missed(
    seeded: str, trusted: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    with connected(seeded) as connection:
        for checkpoint_id, body, signature in connection.execute(
            sa.select(checkpoints.c.checkpoint_id, checkpoints.c.body, checkpoints.c.signature)
        ):
            (kept / f"checkpoint-{checkpoint_id:08d}.json").write_text(
                json.dumps({"body": body, "signature": signature})
            )
    holds = checked(seeded, trusted, "--checkpoint-file", str(kept))
    assert holds.exit_code == 0, holds.output
    with connected(seeded) as connection:
        connection.execute(sa.text("DELETE FROM checkpoint_logs"))
        connection.execute(checkpoints.delete())
    alone = checked(seeded, trusted)
    assert alone.exit_code == 1
    assert results_of(alone) == {"none"}
    with_files = checked(seeded, trusted, "--checkpoint-file", str(kept))
    assert with_files.exit_code == 1
    assert [row["result"] for row in checkpoint_rows(with_files)] == ["missing", "missing"]
