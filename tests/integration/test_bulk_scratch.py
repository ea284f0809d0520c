"""The worker stores of a bulk replay into SQLite: scratch copies of the prepared target
beside it, merged into it with fresh positions and Merkle log ids, removed whatever
happens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from projections.bulk.scratch import ParallelLoadError, worker_stores
from projections.bulk.store import BulkStore
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log, bulk_loads, merkle_logs, merkle_nodes
from tests.integration.bulk_support import refuse_directories, tables

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, tzinfo=UTC)


def prepared(tmp_path: Path) -> tuple[str, sa.Engine]:
    url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    BulkStore(engine, "lifecycle").prepare()
    return url, engine


def audit_entry(event_id: str, partition: int, offset: int) -> dict[str, object]:
    return {
        "event_id": event_id, "event_type": "USED", "credential_id": f"cred-{partition}",
        "client_id": "client", "user_id": "user", "actor_kind": "USER", "actor_id": "user",
        "correlation_id": "correlation", "source": "test", "occurred_at": AT, "recorded_at": AT,
        "sequence": offset + 1, "source_ip": "10.0.0.1", "outcome": "ALLOWED",
        "denial_reason": None, "payload": {}, "anomalies": [], "is_anomaly": False,
        "kafka_topic": "lifecycle", "kafka_partition": partition, "kafka_offset": offset,
        "projected_at": AT, "previous_hash": "0" * 64, "chain_hash": f"{offset:064x}",
        "leaf_index": offset,
    }


def load(url: str, partition: int, offsets: range) -> None:
    """What a worker writes for ``partition``: its Merkle log, nodes and audit rows."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            log_id = connection.execute(
                sa.insert(merkle_logs).values(topic="lifecycle", partition=partition)
                .returning(merkle_logs.c.log_id)
            ).scalar_one()
            connection.execute(sa.insert(merkle_nodes), [
                {"log_id": log_id, "level": 0, "idx": offset, "hash": bytes([partition]) * 32}
                for offset in offsets
            ])
            connection.execute(sa.insert(audit_log), [
                audit_entry(f"{partition}-{offset}", partition, offset) for offset in offsets
            ])
    finally:
        engine.dispose()


def test_scratch_rows_join_the_target_with_its_numbers(tmp_path: Path) -> None:
    url, engine = prepared(tmp_path)
    with worker_stores(engine, url, 3) as stores:
        assert stores.urls[0] == url and len(stores.urls) == 3
        assert all(path.exists() for path in stores.scratch)
        assert all(tables(each)["bulk_loads"] for each in stores.urls), "copies of the target"
        for partition, each in enumerate(stores.urls):
            load(each, partition, range(partition * 10, partition * 10 + 3))
        stores.merge()
    merged = tables(url)
    assert sorted(merged["audit_log"]) == [f"{p}-{p * 10 + i}" for p in range(3) for i in range(3)]
    assert merged["merkle_logs"] == [("lifecycle", 0), ("lifecycle", 1), ("lifecycle", 2)]
    assert merged["merkle_nodes"] == {
        ("lifecycle", p, 0, p * 10 + i): bytes([p]) * 32 for p in range(3) for i in range(3)
    }, "each node under its partition's log in the target"
    with engine.connect() as connection:
        positions = connection.execute(
            sa.select(audit_log.c.position, audit_log.c.event_id).order_by(audit_log.c.position)
        ).all()
        assert connection.execute(sa.select(sa.func.count()).select_from(bulk_loads)).scalar() == 1
    assert [position for position, _id in positions] == list(range(1, 10))
    assert [event_id for _position, event_id in positions][3:6] == ["1-10", "1-11", "1-12"], (
        "each scratch's rows in their order, after the target's"
    )
    assert not any(path.exists() for path in stores.scratch)
    engine.dispose()


def test_an_id_held_by_two_workers_fails_the_merge_and_leaves_the_target_as_it_was(
    tmp_path: Path,
) -> None:
    url, engine = prepared(tmp_path)
    with worker_stores(engine, url, 2) as stores:
        load(stores.urls[0], 0, range(3))
        load(stores.urls[1], 1, range(3))
        with engine.begin() as connection:
            connection.execute(sa.update(audit_log).values(event_id="repeated")
                               .where(audit_log.c.kafka_offset == 0))
        scratch = create_engine_for(stores.urls[1])
        with scratch.begin() as connection:
            connection.execute(sa.update(audit_log).values(event_id="repeated")
                               .where(audit_log.c.kafka_offset == 0))
        scratch.dispose()
        with pytest.raises(sa.exc.IntegrityError):
            stores.merge()
    kept = tables(url)
    assert sorted(kept["audit_log"]) == ["0-1", "0-2", "repeated"]
    assert kept["merkle_logs"] == [("lifecycle", 0)]
    engine.dispose()


def test_the_scratch_directory_goes_when_the_load_fails(tmp_path: Path) -> None:
    url, engine = prepared(tmp_path)
    with pytest.raises(RuntimeError, match="a worker failed"), \
            worker_stores(engine, url, 2) as stores:
        directory = stores.scratch[0].parent
        assert directory.parent == tmp_path
        raise RuntimeError("a worker failed")
    assert not directory.exists()
    engine.dispose()


@pytest.mark.parametrize("memory", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_no_worker_stores(memory: str) -> None:
    engine = create_engine_for(memory)
    with pytest.raises(ParallelLoadError), worker_stores(engine, memory, 2):
        pass
    engine.dispose()


def test_no_scratch_directory_is_a_parallel_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = prepared(tmp_path)
    monkeypatch.setattr("projections.bulk.owned.tempfile.mkdtemp", refuse_directories)
    with pytest.raises(ParallelLoadError, match=r"no scratch directory beside .*target\.db: "
                                                 r".*Permission denied"), \
            worker_stores(engine, url, 2):
        pass
    engine.dispose()
