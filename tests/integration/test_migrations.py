"""Schema migrations on SQLite and PostgreSQL: up, down, up again, and agreement with tables.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from projections import migrate
from projections.database import create_engine_for
from projections.tables import metadata

pytestmark = pytest.mark.integration

TABLES = {"credentials", "audit_log", "consumer_positions"}

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
    assert migrate.current_revision(database_url) == migrate.head_revision() == "0001"
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
