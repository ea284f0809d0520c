"""The local Kafka broker and PostgreSQL server: reused while running, answering real requests."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient

from devservices import kafka, postgres
from devservices.exports import (
    ACCESS_LOG_DATABASE_URL,
    DATABASE_URL,
    KAFKA_BOOTSTRAP_SERVERS,
    READER_DATABASE_URL,
    TEST_ACCESS_LOG_DATABASE_URL,
    TEST_DATABASE_URL,
    TEST_READER_DATABASE_URL,
)
from devservices.pg_provision import libpq_url
from devservices.pg_server import LOCATION_NOTE, PostgresLayout
from devservices.state import STATE_DIR_ENV, default_state_dir

pytestmark = pytest.mark.integration

_SERVICE_VARIABLES = (
    KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, TEST_DATABASE_URL, READER_DATABASE_URL,
    TEST_READER_DATABASE_URL, ACCESS_LOG_DATABASE_URL, TEST_ACCESS_LOG_DATABASE_URL,
)


@pytest.fixture(scope="module")
def state_dir() -> Path:
    return default_state_dir()


def _devservices(state_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARIABLES}
    env.update({STATE_DIR_ENV: str(state_dir), **extra_env})
    return subprocess.run(
        [sys.executable, "-m", "devservices", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_kafka_is_reused_and_answers_metadata_requests(state_dir: Path) -> None:
    first = kafka.ensure_running(state_dir)
    second = kafka.ensure_running(state_dir)

    assert first == second
    assert first.startswith("127.0.0.1:")
    admin = KafkaAdminClient(bootstrap_servers=first, client_id="test-devservices")
    try:
        assert isinstance(admin.list_topics(), list)
        assert len(admin.describe_cluster()["brokers"]) == 1
    finally:
        admin.close()
    current = kafka.status(state_dir)
    assert current.running
    assert current.answering
    assert current.variables == {KAFKA_BOOTSTRAP_SERVERS: first}


def test_postgres_is_reused_and_both_databases_answer(state_dir: Path) -> None:
    first = postgres.ensure_running(state_dir)
    second = postgres.ensure_running(state_dir)

    assert first == second
    for url, database in (
        (first.service_url, "client_audit"),
        (first.test_url, "client_audit_test"),
    ):
        assert url.startswith("postgresql+psycopg://client_audit:client_audit@127.0.0.1:")
        with psycopg.connect(libpq_url(url)) as connection:
            row = connection.execute("SELECT 1, current_database(), current_user").fetchone()
        assert row == (1, database, "client_audit")
    for url, user in ((first.test_reader_url, "client_audit_reader"),
                      (first.test_access_log_url, "client_audit_access")):
        with psycopg.connect(libpq_url(url)) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (user,)


def test_env_prints_the_exports_of_the_running_services(state_dir: Path) -> None:
    bootstrap = kafka.ensure_running(state_dir)
    urls = postgres.ensure_running(state_dir)

    result = _devservices(state_dir, "env")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    optional = [line for line in lines if line.startswith("export KAFKA_SECURE_")]
    assert len(optional) in (0, 4)  # kafka-secure's, when it runs (the secure tests start it)
    assert [line for line in lines if line not in optional] == [
        f"export {KAFKA_BOOTSTRAP_SERVERS}={bootstrap}",
        f"export {DATABASE_URL}={urls.service_url}",
        f"export {TEST_DATABASE_URL}={urls.test_url}",
        f"export {READER_DATABASE_URL}={urls.reader_url}",
        f"export {TEST_READER_DATABASE_URL}={urls.test_reader_url}",
        f"export {ACCESS_LOG_DATABASE_URL}={urls.access_log_url}",
        f"export {TEST_ACCESS_LOG_DATABASE_URL}={urls.test_access_log_url}",
    ]


def test_start_with_addresses_in_the_environment_starts_nothing(tmp_path: Path) -> None:
    result = _devservices(
        tmp_path,
        "start",
        "all",
        KAFKA_BOOTSTRAP_SERVERS="broker.example:9092",
        DATABASE_URL="postgresql+psycopg://u:p@db.example:5432/audit",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "export KAFKA_BOOTSTRAP_SERVERS=broker.example:9092",
        "export DATABASE_URL=postgresql+psycopg://u:p@db.example:5432/audit",
    ]
    assert not (tmp_path / "kafka").exists()
    assert not (tmp_path / "postgres").exists()


def test_postgres_runs_from_a_state_dir_its_account_cannot_reach(tmp_path: Path) -> None:
    """A clone inside root's own 0700 home: as root the cluster moves under the server
    account's home and the state dir says where; otherwise it stays beside the state."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    state = home / "clone" / ".local"
    urls = postgres.ensure_running(state)
    layout = PostgresLayout.under(state)
    try:
        with psycopg.connect(libpq_url(urls.test_url)) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (
                "client_audit_test",
            )
        if os.geteuid() == 0:
            assert not layout.root.is_relative_to(home)
            assert layout.root.is_relative_to(Path(pwd.getpwnam("postgres").pw_dir))
            assert str(layout.root) in (state / LOCATION_NOTE).read_text()
        else:
            assert layout.root == state / "postgres"
        assert postgres.status(state).answering
    finally:
        postgres.stop(state)
    assert not postgres.status(state).running
    if layout.root != state / "postgres":
        shutil.rmtree(layout.root.parent)
