"""Revision 0004 on SQLite and PostgreSQL: a populated v1 log re-hashed into v2 entry
documents and Merkle logs, the v1 heads kept, an altered v1 log not laundered, and the way
back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from client_audit.cli.main import cli
from projections.chain.heads import all_heads, broken_before_upgrade
from projections.chain.verify import verify_chains
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.rows import audit_row
from projections.db.tables import audit_chain_v1_heads, audit_log, merkle_nodes
from projections.model.batch import fold_batch
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore
from tests.builders_projection import TOPIC, History, Partition

pytestmark = pytest.mark.integration

HASHES = sa.select(audit_log.c.event_id, audit_log.c.chain_hash, audit_log.c.leaf_index)


def placed_events() -> list[PositionedEvent]:
    first, second = History("cred-a", user_id="alice"), History("cred-b", user_id="bob")
    zero, three = Partition(0), Partition(3, start=40)
    return [
        *zero.place([first.created(allow_source_cidr=("10.0.0.0/8",)), first.used("10.0.0.1"),
                     first.used("192.0.2.1")]),
        *three.place([second.created(), second.used("2001:db8::1"), second.deleted(),
                      second.used("2001:db8::2")]),
        *zero.place([first.roles_scoped("reader"), first.expired()]),
    ]


def at_revision_0003(url: str, placed: list[PositionedEvent]) -> dict[str, str]:
    """A database at 0003 holding the events, chained by the v1 chain; its v1 hashes."""
    migrate.upgrade(url, "0001")
    engine = create_engine_for(url)
    try:
        old = sa.Table("audit_log", sa.MetaData(), autoload_with=engine)
        at = datetime(2026, 3, 4, tzinfo=UTC)
        entries = fold_batch(placed, {}, set(), {}).entries
        with engine.begin() as connection:
            connection.execute(old.insert(), [audit_row(p, flags, at) for p, flags in entries])
        migrate.upgrade(url, "0003")
        with engine.connect() as connection:
            old = sa.Table("audit_log", sa.MetaData(), autoload_with=connection)
            return dict(connection.execute(sa.select(old.c.event_id, old.c.chain_hash)).all())
    finally:
        engine.dispose()


def v1_heads_of(url: str) -> dict[tuple[str, int], tuple[str, int]]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            table = sa.Table("audit_chain_heads", sa.MetaData(), autoload_with=connection)
            return {(row.topic, row.partition): (row.chain_hash, row.length)
                    for row in connection.execute(sa.select(table))}
    finally:
        engine.dispose()


def test_a_populated_v1_log_becomes_the_log_a_fresh_projection_writes(
    database_url: str, tmp_path: Path
) -> None:
    placed = placed_events()
    v1 = at_revision_0003(database_url, placed)
    v1_heads = v1_heads_of(database_url)
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            verdicts = verify_chains(connection)
            upgraded = {row.event_id: row[1:] for row in connection.execute(HASHES)}
            heads = {key: (head.length, head.root) for key, head in all_heads(connection).items()}
            kept = {(row.topic, row.partition): (row.chain_hash, row.length, row.intact)
                    for row in connection.execute(sa.select(audit_chain_v1_heads))}
            nodes = connection.scalar(sa.select(sa.func.count()).select_from(merkle_nodes))
            assert broken_before_upgrade(connection) == []
    finally:
        engine.dispose()
    assert [(v.partition, v.rows, v.first_break) for v in verdicts] == [(0, 5, None),
                                                                         (3, 4, None)]
    assert kept == {key: (hash_, length, True) for key, (hash_, length) in v1_heads.items()}
    assert all(upgraded[event_id][0] != v1[event_id] for event_id in v1), "re-hashed as v2"
    # 5 leaves make 5 + 2 + 1 nodes, 4 make 4 + 2 + 1.
    assert nodes == 8 + 7

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh_url)
    fresh = create_engine_for(fresh_url)
    try:
        ProjectionStore(fresh).apply(placed, {(TOPIC, 0): 5, (TOPIC, 3): 44})
        with fresh.connect() as connection:
            stored = {row.event_id: row[1:] for row in connection.execute(HASHES)}
            fresh_heads = {key: (head.length, head.root)
                           for key, head in all_heads(connection).items()}
    finally:
        fresh.dispose()
    assert upgraded == stored
    assert heads == fresh_heads


def test_a_v1_log_altered_before_the_upgrade_stays_reported(database_url: str) -> None:
    placed = placed_events()
    at_revision_0003(database_url, placed)
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "UPDATE audit_log SET source_ip = '2001:db8::66' WHERE kafka_partition = 3 "
                "AND kafka_offset = 43"
            ))
            row = connection.execute(sa.text(
                "SELECT position, payload FROM audit_log WHERE kafka_partition = 3 "
                "AND kafka_offset = 43")).one()
            payload: dict[str, Any] = dict(row.payload) if isinstance(row.payload, dict) else (
                json.loads(row.payload))
            payload["sourceIp"] = "2001:db8::66"
            old = sa.Table("audit_log", sa.MetaData(), autoload_with=connection)
            connection.execute(old.update().where(old.c.position == row.position).values(
                payload=payload))
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            [broken] = broken_before_upgrade(connection)
            assert verify_chains(connection)[1].first_break is None, "v2 chain itself holds"
    finally:
        engine.dispose()
    assert (broken.partition, broken.first_break_offset) == (3, 43)
    result = CliRunner().invoke(cli, ["--database-url", database_url, "verify-log",
                                      "--format", "jsonl"])
    assert result.exit_code == 1
    assert '"result":"broken-before-upgrade"' in result.stdout
    assert "the log was altered before the upgrade" in result.stdout


def test_a_v1_log_cut_before_the_upgrade_stays_reported(database_url: str) -> None:
    at_revision_0003(database_url, placed_events())
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "DELETE FROM audit_log WHERE kafka_partition = 0 AND kafka_offset = 4"))
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            [broken] = broken_before_upgrade(connection)
    finally:
        engine.dispose()
    assert (broken.partition, broken.first_break_offset) == (0, 3)


def test_downgrading_0004_gives_back_the_v1_chain(database_url: str) -> None:
    v1 = at_revision_0003(database_url, placed_events())
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "0003")
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            old = sa.Table("audit_log", sa.MetaData(), autoload_with=connection)
            assert "leaf_index" not in old.c
            back = dict(connection.execute(sa.select(old.c.event_id, old.c.chain_hash)).all())
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert back == v1
    assert not tables & {"merkle_nodes", "checkpoints", "audit_chain_v1_heads"}
