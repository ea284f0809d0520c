"""The projector against the real broker, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaAdminClient, TopicPartition
from kafka.structs import OffsetAndMetadata

from projections.db.engine import create_engine_for
from projections.db.tables import consumer_positions
from tests.integration.process_support import spawned_children, wait_for, wait_until_stopped
from tests.integration.projector_support import (
    Topics,
    audit_count,
    make_topics,
    project,
    publish_simulation,
    snapshot,
    spawn_projector,
)

pytestmark = pytest.mark.integration


def reference_projection(topics: Topics, unique_name: str, tmp_path: Path) -> str:
    """The topic projected by one projector in this process, into a SQLite file."""
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    project(topics, reference, group=f"{unique_name}-reference")
    return reference


def assert_same_projection(database_url: str, reference: str) -> None:
    result, expected = snapshot(database_url), snapshot(reference)
    assert result.credentials == expected.credentials
    assert result.audit == expected.audit


def test_simulated_stream_projects_to_the_intended_state(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=300)

    report = project(topics, database_url, group=unique_name)

    assert report.applied == simulation.summary.events
    assert report.dead_lettered == 0
    state = snapshot(database_url)
    assert set(state.credentials) == set(simulation.intended)
    for credential_id, intended in simulation.intended.items():
        row = state.credentials[credential_id]
        assert row["client_id"] == intended.client_id
        assert row["user_id"] == intended.user_id
        assert row["display_name"] == intended.display_name
        assert set(row["scoped_roles"]) == intended.scoped_roles
        assert set(row["allow_source_cidr"]) == intended.allow_source_cidr
        assert row["status"] == intended.status, credential_id
        assert row["created_at"] == intended.created_at
        assert row["updated_at"] == intended.updated_at
        assert row["expires_time"] == intended.expires_time
        assert row["deleted_at"] == intended.deleted_at
        assert row["last_used_at"] == intended.last_used_at
        assert row["last_sequence"] == intended.last_sequence
    assert state.audit_rows == simulation.summary.events
    planted = simulation.summary.planted_anomalies
    flagged = [set(row["anomalies"]) for row in state.audit.values()]
    for kind, count in planted.items():
        assert sum(kind in flags for flags in flagged) >= count, kind


def _wait_for_progress(
    database_url: str, above: int, process: subprocess.Popen[bytes], timeout: float = 60
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = audit_count(database_url)
        if count > above:
            return count
        assert process.poll() is None, "projector exited early"
        time.sleep(0.05)
    raise AssertionError(f"projector made no progress past {above} rows")


def test_sigterm_and_sigkill_then_restart_equal_a_clean_run(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: Path
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=1500)
    total = simulation.summary.events
    reference = reference_projection(topics, unique_name, tmp_path)

    seen = 0
    for stop_signal in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL, signal.SIGKILL):
        process = spawn_projector(topics, database_url, unique_name, batch_size=150)
        seen = _wait_for_progress(database_url, seen + 600, process)
        process.send_signal(stop_signal)
        code = process.wait(timeout=60)
        if stop_signal is signal.SIGTERM:
            assert code == 0, process.stderr.read().decode() if process.stderr else ""
        else:
            assert code == -signal.SIGKILL
        seen = audit_count(database_url)
        assert seen < total, "stream finished before the fault; make it longer"
    final = spawn_projector(topics, database_url, unique_name, batch_size=150, until_caught_up=True)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()

    result, expected = snapshot(database_url), snapshot(reference)
    assert result.audit_rows == total
    assert result.credentials == expected.credentials
    assert result.audit == expected.audit


def test_rewinding_offsets_redelivers_and_changes_nothing(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=150)
    project(topics, database_url, group=unique_name)
    before = snapshot(database_url)

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    try:
        rewound = {
            TopicPartition(topics.lifecycle, p): OffsetAndMetadata(0, "", -1) for p in range(6)
        }
        admin.alter_group_offsets(unique_name, rewound)
    finally:
        admin.close()
    again = project(topics, database_url, group=unique_name)
    assert again.applied == 0
    assert snapshot(database_url) == before

    engine = create_engine_for(database_url)
    with engine.begin() as connection:
        connection.execute(sa.delete(consumer_positions))
    engine.dispose()
    redelivered = project(topics, database_url, group=unique_name)
    assert redelivered.applied == 0
    assert redelivered.duplicates == simulation.summary.events
    assert snapshot(database_url) == before


def test_two_projectors_in_one_group_equal_one(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: Path
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=1500)
    reference = reference_projection(topics, unique_name, tmp_path)

    first = spawn_projector(topics, database_url, unique_name, batch_size=100, until_caught_up=True)
    second = spawn_projector(
        topics, database_url, unique_name, batch_size=100, until_caught_up=True
    )
    reports = []
    for process in (first, second):
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out))

    assert sum(report["applied"] for report in reports) == simulation.summary.events
    assert all(report["applied"] > 0 for report in reports), reports
    assert_same_projection(database_url, reference)


def test_workers_option_runs_several_processes_with_the_result_of_one(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: Path
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=400)
    reference = reference_projection(topics, unique_name, tmp_path)

    process = spawn_projector(
        topics, database_url, unique_name, 200, until_caught_up=True, extra=["--workers", "2"]
    )
    out, err = process.communicate(timeout=240)

    assert process.returncode == 0, err.decode()
    assert json.loads(out)["applied"] == simulation.summary.events
    assert_same_projection(database_url, reference)


def test_projector_workers_stop_when_the_process_that_started_them_is_killed(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: Path
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = publish_simulation(topics, credentials_count=200)
    reference = reference_projection(topics, unique_name, tmp_path)
    logged = tmp_path / "project.log"
    with logged.open("wb") as sink:
        parent = subprocess.Popen(
            [*topics.project_command(database_url, unique_name, 200, until_caught_up=False),
             "--workers", "2"],
            stdout=sink, stderr=sink,
        )
    workers: list[int] = []
    try:
        wait_for(lambda: len(spawned_children(parent.pid)) == 2, "two projector processes")
        workers = spawned_children(parent.pid)
        wait_for(lambda: audit_count(database_url) == simulation.summary.events,
                 "the stream projected", timeout_s=120)
    finally:
        parent.kill()
        parent.wait(10)
        wait_until_stopped(workers, "the orphaned projectors to stop")

    text = logged.read_text()
    assert text.count(f"the process that started this projector (pid {parent.pid}) is gone") == 2
    assert_same_projection(database_url, reference)
