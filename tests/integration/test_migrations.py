"""Schema migrations on SQLite and PostgreSQL: up, down, up again, and agreement with tables.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from projections.chain.verify import verify_chains
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.rows import audit_row
from projections.db.tables import audit_log, credentials, metadata
from projections.model.anomalies import Anomaly
from projections.model.batch import fold_batch
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore
from tests.builders_projection import TOPIC, History, Partition
from tests.migration_support import revision_module

pytestmark = pytest.mark.integration

TABLES = {
    "credentials", "audit_log", "consumer_positions", "audit_chain_heads", "merkle_logs",
    "merkle_nodes", "signing_keys", "checkpoints", "checkpoint_logs", "audit_chain_v1_heads",
    "api_tokens", "access_log", "access_chain_head", "saved_searches", "log_verifications",
    "alert_outbox", "alert_deliveries", "alert_delivery_attempts",
    "bulk_loads",
}

INDEXES = {
    "credentials": {
        "ix_credentials_user_id": ["user_id"],
        "ix_credentials_status": ["status"],
        "ix_credentials_expires_time": ["expires_time"],
    },
    "audit_log": {
        "ix_audit_log_credential_occurred": ["credential_id", "occurred_at"],
        "ix_audit_log_user_occurred": ["user_id", "occurred_at"],
        "ix_audit_log_event_type_occurred": ["event_type", "occurred_at"],
        "ix_audit_log_source_ip_occurred": ["source_ip", "occurred_at"],
        "ix_audit_log_actor_occurred": ["actor_id", "occurred_at"],
        "ix_audit_log_anomaly_occurred": ["is_anomaly", "occurred_at"],
        "ix_audit_log_credential_sequence": ["credential_id", "sequence"],
        "ix_audit_log_client_occurred": ["client_id", "occurred_at"],
        "ix_audit_log_correlation_occurred": ["correlation_id", "occurred_at"],
    },
    "alert_outbox": {"ix_alert_outbox_published_seq": ["published_at", "seq"]},
    "alert_deliveries": {"ix_alert_deliveries_status_next": ["status", "next_attempt_at"]},
    "access_log": {
        "ix_access_log_at": ["at"],
        "ix_access_log_token_name_at": ["token_name", "at"],
    },
}


def inspect_tables(database_url: str) -> set[str]:
    engine = create_engine_for(database_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_an_empty_database_to_head(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision() == "0009"
    assert inspect_tables(database_url) == TABLES | {"alembic_version"}


def test_migrated_schema_has_the_columns_keys_and_indexes(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        inspector = sa.inspect(engine)
        for table in TABLES:
            columns = {column["name"] for column in inspector.get_columns(table)}
            assert columns == set(metadata.tables[table].columns.keys()), table
        for table, expected in INDEXES.items():
            found = {
                index["name"]: index["column_names"]
                for index in inspector.get_indexes(table)
                if "duplicates_constraint" not in index  # PostgreSQL: a unique constraint's index
            }
            assert found == expected, table
        assert inspector.get_pk_constraint("audit_log")["constrained_columns"] == ["position"]
        assert inspector.get_pk_constraint("consumer_positions")["constrained_columns"] == [
            "topic",
            "partition",
        ]
        unique = {
            constraint["name"]: constraint["column_names"]
            for constraint in inspector.get_unique_constraints("audit_log")
        }
        assert unique == {
            "uq_audit_log_event_id": ["event_id"],
            "uq_audit_log_kafka_position": ["kafka_topic", "kafka_partition", "kafka_offset"],
        }
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert migrate.current_revision(database_url) is None
    assert inspect_tables(database_url) <= {"alembic_version"}
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert inspect_tables(database_url) == TABLES | {"alembic_version"}


def test_upgrading_twice_is_a_no_op(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_postgresql_version_table_lands_in_the_url_schema(pg_url: str) -> None:
    migrate.upgrade(pg_url)
    schema = sa.engine.make_url(pg_url).query["options"]
    assert isinstance(schema, str)
    name = schema.removeprefix("-csearch_path=")
    engine = create_engine_for(pg_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"
                ),
                {"schema": name},
            ).scalars()
            assert set(found) == TABLES | {"alembic_version"}
            public = connection.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_name = 'alembic_version'"
                )
            ).scalar_one()
            assert public == 0
    finally:
        engine.dispose()


CHAIN_HASHES = sa.select(audit_log.c.event_id, audit_log.c.chain_hash)


def flagged(placed: list[PositionedEvent]) -> list[tuple[PositionedEvent, tuple[Anomaly, ...]]]:
    """The events with the flags the store gives them (what an older revision recorded)."""
    return fold_batch(placed, {}, set(), {}).entries


def _events_on_two_partitions() -> list[PositionedEvent]:
    first, second = History("cred-a", user_id="alice"), History("cred-b", user_id="bob")
    zero, three = Partition(0), Partition(3, start=40)
    return [
        *zero.place([first.created(scoped_roles=("admin",)), first.used("10.0.0.1")]),
        *three.place([second.created(), second.used("2001:db8::1"), second.deleted()]),
        *zero.place([first.roles_scoped("reader"), first.expired()]),
    ]


def test_upgrading_a_populated_previous_revision_chains_its_rows(
    database_url: str, tmp_path: Path
) -> None:
    """Rows recorded before the audit chain existed are hashed by the migration, so the
    upgraded database verifies and holds the hashes the store would have written."""
    placed = _events_on_two_partitions()
    migrate.upgrade(database_url, "0001")
    engine = create_engine_for(database_url)
    try:
        old_audit_log = sa.Table("audit_log", sa.MetaData(), autoload_with=engine)
        at = datetime(2026, 3, 4, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                old_audit_log.insert(), [audit_row(p, flags, at) for p, flags in flagged(placed)]
            )
        migrate.upgrade(database_url)
        assert migrate.current_revision(database_url) == migrate.head_revision()
        with engine.connect() as connection:
            verdicts = verify_chains(connection)
            upgraded = dict(connection.execute(CHAIN_HASHES).all())
    finally:
        engine.dispose()
    assert [(v.topic, v.partition, v.rows, v.first_break) for v in verdicts] == [
        (TOPIC, 0, 4, None),
        (TOPIC, 3, 3, None),
    ]

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh_url)
    fresh = create_engine_for(fresh_url)
    try:
        ProjectionStore(fresh).apply(placed, {(TOPIC, 0): 4, (TOPIC, 3): 43})
        with fresh.connect() as connection:
            stored = dict(connection.execute(CHAIN_HASHES).all())
    finally:
        fresh.dispose()
    assert upgraded == stored


def test_downgrading_to_the_previous_revision_drops_the_chain(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "0001")
    engine = create_engine_for(database_url)
    try:
        inspector = sa.inspect(engine)
        assert "audit_chain_heads" not in inspector.get_table_names()
        columns = {column["name"] for column in inspector.get_columns("audit_log")}
        assert not columns & {"chain_hash", "previous_hash"}
    finally:
        engine.dispose()


def _mapped_events() -> list[PositionedEvent]:
    first, second = History("cred-m", user_id="mallory"), History("cred-n", user_id="nina")
    zero, one = Partition(0), Partition(1)
    return [
        *zero.place([first.created(allow_source_cidr=("::ffff:10.0.0.0/104", "10.0.0.0/8")),
                     first.used("::ffff:10.1.2.3"), first.used("10.1.2.3")]),
        *one.place([second.created(), second.used("2001:db8::1")]),
        *zero.place([first.updated(allow_source_cidr=("::ffff:192.0.2.0/120",)),
                     first.used("::ffff:192.0.2.9")]),
    ]


def _as_before_0003(row: dict[str, Any]) -> dict[str, Any]:
    """An audit row as a Python before 3.13 wrote it: mapped addresses in hex."""
    respell = revision_module("0003_canonical_addresses.py")
    changed = dict(row)
    changed["payload"] = respell.respelled_payload(row["payload"], respell.hexadecimal)
    if row["source_ip"] is not None:
        changed["source_ip"] = respell.respelled_address(row["source_ip"], respell.hexadecimal)
    return changed


def test_upgrading_rewrites_mapped_addresses_in_dotted_form_and_rechains(
    database_url: str, tmp_path: Path
) -> None:
    placed = _mapped_events()
    migrate.upgrade(database_url, "0002")
    chain_v1 = revision_module("0002_audit_chain.py").chain_hash
    at = datetime(2026, 3, 4, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    heads: dict[tuple[str, int], tuple[int, str, int]] = {}
    for positioned, flags in flagged(placed):
        row = _as_before_0003(audit_row(positioned, flags, at))
        key = (positioned.topic, positioned.partition)
        previous = heads.get(key, (None, "0" * 64, 0))[1]
        row["previous_hash"] = previous
        row["chain_hash"] = chain_v1(previous, row["payload"], *key, positioned.offset)
        heads[key] = (positioned.offset, row["chain_hash"], heads.get(key, (0, "", 0))[2] + 1)
        rows.append(row)
    assert rows[1]["source_ip"] == "::ffff:a01:203"
    engine = create_engine_for(database_url)
    try:
        old_audit = sa.Table("audit_log", sa.MetaData(), autoload_with=engine)
        old_heads = sa.Table("audit_chain_heads", sa.MetaData(), autoload_with=engine)
        old_credentials = sa.Table("credentials", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            connection.execute(old_audit.insert(), rows)
            connection.execute(old_heads.insert(), [
                {"topic": t, "partition": p, "last_offset": o, "chain_hash": h, "length": n}
                for (t, p), (o, h, n) in heads.items()
            ])
            connection.execute(old_credentials.insert(), [{
                "credential_id": "cred-m", "client_id": "c", "user_id": "mallory",
                "display_name": None, "scoped_roles": [],
                "allow_source_cidr": ["::ffff:c000:200/120"],
                "created_at": at, "updated_at": at, "last_used_at": at, "expires_time": None,
                "deleted_at": None, "status": "active", "last_sequence": 5,
                "last_event_id": str(placed[-1].event.event_id), "last_event_type": "USED",
                "last_changed_at": at, "created_event_id": None,
                "seen_source_ips": ["10.1.2.3", "::ffff:a01:203", "::ffff:c000:209"],
                "anomaly_count": 0,
            }])
        migrate.upgrade(database_url)
        with engine.connect() as connection:
            verdicts = verify_chains(connection)
            upgraded = dict(connection.execute(CHAIN_HASHES).all())
            addresses = connection.execute(
                sa.select(audit_log.c.source_ip).where(audit_log.c.source_ip.is_not(None))
                .order_by(audit_log.c.position)
            ).scalars().all()
            credential = connection.execute(
                sa.select(credentials.c.seen_source_ips, credentials.c.allow_source_cidr)
            ).one()
    finally:
        engine.dispose()
    assert [(v.partition, v.rows, v.first_break) for v in verdicts] == [(0, 5, None), (1, 2, None)]
    assert addresses == ["::ffff:10.1.2.3", "10.1.2.3", "2001:db8::1", "::ffff:192.0.2.9"]
    assert credential.seen_source_ips == ["10.1.2.3", "::ffff:10.1.2.3", "::ffff:192.0.2.9"]
    assert credential.allow_source_cidr == ["::ffff:192.0.2.0/120"]

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh_url)
    fresh = create_engine_for(fresh_url)
    try:
        ProjectionStore(fresh).apply(placed, {(TOPIC, 0): 5, (TOPIC, 1): 2})
        with fresh.connect() as connection:
            stored = dict(connection.execute(CHAIN_HASHES).all())
    finally:
        fresh.dispose()
    assert upgraded == stored


def test_downgrading_0003_writes_the_hex_form_back_and_still_verifies(database_url: str) -> None:
    placed = _mapped_events()
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        ProjectionStore(engine).apply(placed, {(TOPIC, 0): 5, (TOPIC, 1): 2})
        migrate.downgrade(database_url, "0002")
        chain_v1 = revision_module("0002_audit_chain.py").chain_hash
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(audit_log.c.kafka_partition, audit_log.c.kafka_offset,
                          audit_log.c.source_ip, audit_log.c.payload, audit_log.c.previous_hash,
                          audit_log.c.chain_hash)
                .order_by(audit_log.c.kafka_partition, audit_log.c.kafka_offset)
            ).all()
    finally:
        engine.dispose()
    assert [row.source_ip for row in rows if row.source_ip] == [
        "::ffff:a01:203", "10.1.2.3", "::ffff:c000:209", "2001:db8::1"
    ]
    for row in rows:
        assert row.chain_hash == chain_v1(
            row.previous_hash, row.payload, TOPIC, row.kafka_partition, row.kafka_offset
        )
