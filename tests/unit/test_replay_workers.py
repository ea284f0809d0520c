"""How many processes a replay loads with: chosen from the plan for bulk replays into
PostgreSQL and SQLite files, one into an in-memory SQLite database and for replays through
the live store. (No connection is opened: building a replay only creates its engine.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.replay import Replay, ReplayPlan

POSTGRES = "postgresql+psycopg://client_audit@127.0.0.1:1/client_audit"
LARGE = ReplayPlan("t", {p: 0 for p in range(6)}, {p: 20_000 for p in range(6)})
SMALL = ReplayPlan("t", {p: 0 for p in range(6)}, {p: 1_000 for p in range(6)})


@pytest.fixture(autouse=True)
def two_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)


def test_an_automatic_bulk_replay_into_postgresql_has_a_worker_per_processor() -> None:
    assert Replay(LARGE, "127.0.0.1:1", POSTGRES, bulk=True, workers=None).workers == 2
    assert Replay(SMALL, "127.0.0.1:1", POSTGRES, bulk=True, workers=None).workers == 1


def test_a_given_count_is_kept_for_a_bulk_replay_into_postgresql() -> None:
    assert Replay(SMALL, "127.0.0.1:1", POSTGRES, bulk=True, workers=3).workers == 3


def test_a_bulk_replay_into_a_sqlite_file_has_workers_too(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path / 'replay.db'}"
    assert Replay(LARGE, "127.0.0.1:1", sqlite, bulk=True, workers=None).workers == 2
    assert Replay(SMALL, "127.0.0.1:1", sqlite, bulk=True, workers=None).workers == 1
    assert Replay(SMALL, "127.0.0.1:1", sqlite, bulk=True, workers=3).workers == 3


@pytest.mark.parametrize("memory", ["sqlite://", "sqlite:///:memory:",
                                    "sqlite:///file:replay.db?uri=true"])
def test_sqlite_in_memory_or_by_uri_and_live_replays_load_in_one_process(memory: str) -> None:
    assert Replay(LARGE, "127.0.0.1:1", memory, bulk=True, workers=None).workers == 1
    assert Replay(LARGE, "127.0.0.1:1", memory, bulk=True, workers=4).workers == 1
    assert Replay(LARGE, "127.0.0.1:1", POSTGRES, bulk=False, workers=None).workers == 1
    assert Replay(LARGE, "127.0.0.1:1", POSTGRES, bulk=False, workers=4).workers == 1
