"""A bulk replay into SQLite by two workers, killed outright (SIGKILL) in the middle: its
workers notice and stop rather than load for nobody, and the next bulk replay beside the
same target removes the scratch directory it left and loads as usual."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from producer.simulate import Simulation, SimulationConfig
from projections.bulk.owned import OWNER_FILE
from projections.bulk.scratch import SCRATCH_PREFIX
from tests.integration.forensics_support import run
from tests.integration.process_support import spawned_children, wait_for, wait_until_stopped
from tests.integration.projector_support import make_topics, publish

pytestmark = pytest.mark.integration


def rows(database: Path) -> int:
    """The audit rows a worker committed into ``database``."""
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT count(*) FROM audit_log").fetchone()
    return int(count)


def scratch_dirs(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.name.startswith(SCRATCH_PREFIX))


def test_a_killed_replay_stops_its_workers_and_the_next_removes_its_scratch(
    kafka_bootstrap_servers: str, unique_name: str, tmp_path: Path
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name, partitions=2)
    simulated = list(Simulation(SimulationConfig(credentials=2500, seed=31)).events())
    publish(topics, simulated)
    killed_target = f"sqlite:///{tmp_path / 'killed.db'}"
    replay = subprocess.Popen(
        [sys.executable, "-m", "client_audit.cli",
         *topics.cli_options(f"sqlite:///{tmp_path / 'unused.db'}"),
         "replay", "--into", killed_target, "--workers", "2", "--batch-size", "500",
         "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        wait_for(lambda: len(spawned_children(replay.pid)) == 2 and any(
            (path / "worker-1.db").exists() for path in scratch_dirs(tmp_path)
        ), "two workers and a scratch copy")
        workers = spawned_children(replay.pid)
        (left,) = scratch_dirs(tmp_path)
        assert (left / OWNER_FILE).read_text().split()[1] == str(replay.pid)
    finally:
        os.kill(replay.pid, signal.SIGKILL)
        replay.wait(10)
        wait_until_stopped(workers, "the orphaned workers to stop")

    assert left.exists(), "nothing removes the scratch directory of a replay killed outright"
    loaded = rows(tmp_path / "killed.db") + rows(left / "worker-1.db")
    assert loaded < len(simulated) // 2, f"the orphaned workers went on loading: {loaded} rows"

    again = f"sqlite:///{tmp_path / 'again.db'}"
    result = run(topics, f"sqlite:///{tmp_path / 'unused.db'}", "replay", "--into", again,
                 "--workers", "2", "--no-progress", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert f"removed {left}" in result.stderr and "left behind by an interrupted" in result.stderr
    assert scratch_dirs(tmp_path) == []
    (summary,) = json.loads(result.stdout)
    assert summary["complete"] is True and summary["applied"] == len(simulated)
