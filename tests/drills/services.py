"""The drills' own Kafka broker and PostgreSQL server, in a state directory of their own.

The drills stop and restart these services on purpose, so they never touch the shared
services of the default state directory nor any address given by the environment.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from psycopg import sql
from sqlalchemy.engine import make_url

from devservices import kafka, postgres
from devservices.pg_provision import TEST_DATABASE
from devservices.pg_server import SUPERUSER, PostgresLayout
from devservices.state import project_root

log = logging.getLogger(__name__)

DRILL_STATE_DIR_ENV = "CLIENT_AUDIT_DRILL_STATE_DIR"
DRILL_PREFIX = "drill"
"""Every drill names its topics and its schema with this prefix."""
_SESSION_LOCK = ".drill-session.lock"


def drill_state_dir() -> Path:
    """``$CLIENT_AUDIT_DRILL_STATE_DIR``, else ``<project>/.local/drills``."""
    configured = os.environ.get(DRILL_STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return project_root() / ".local" / "drills"


@contextmanager
def exclusive_state_dir(base: Path) -> Iterator[Path]:
    """The first of ``base``, ``base-2``, ``base-3``, ... that no other session holds.

    Drills stop and restart their services, so two test sessions running drills at once
    must not share them: each holds its state directory's session lock until it ends.
    """
    for index in itertools.count(1):
        candidate = base if index == 1 else base.with_name(f"{base.name}-{index}")
        candidate.mkdir(parents=True, exist_ok=True)
        handle = (candidate / _SESSION_LOCK).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            log.info("drill state %s is held by another session", candidate)
            continue
        try:
            yield candidate
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return


@dataclass(frozen=True)
class DrillKafka:
    """The drills' broker: its address stays the same across a stop and a start."""

    state_dir: Path
    bootstrap: str

    def stop(self) -> None:
        """SIGTERM the broker (a clean shutdown) and wait until it is gone."""
        kafka.stop(self.state_dir)

    def start(self) -> str:
        """Start the broker again on its saved ports; return its address."""
        return kafka.ensure_running(self.state_dir)

    def delete_topics(self, prefix: str) -> list[str]:
        """Delete the topics whose names start with ``prefix`` (best effort)."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap, client_id="drill-cleanup",
                bootstrap_timeout_ms=30_000, request_timeout_ms=30_000,
            )
        except KafkaError as exc:
            log.warning("could not delete topics %s*: %s", prefix, exc)
            return []
        try:
            names = [name for name in admin.list_topics() if name.startswith(prefix)]
            if names:
                admin.delete_topics(names, timeout_ms=30_000)
            return names
        except KafkaError as exc:
            log.warning("could not delete topics %s*: %s", prefix, exc)
            return []
        finally:
            admin.close()


@dataclass(frozen=True)
class DrillPostgres:
    """The drills' PostgreSQL: the test database as the project's role, and a superuser door."""

    state_dir: Path
    test_url: str

    @property
    def port(self) -> int:
        port = make_url(self.test_url).port
        if port is None:
            raise ValueError(f"no port in {self.test_url}")
        return port

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients disconnected."""
        postgres.stop(self.state_dir)

    def start(self) -> str:
        """Start the server again on its saved port; return the test database URL."""
        return postgres.ensure_running(self.state_dir).test_url

    @contextmanager
    def superuser(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """An autocommit superuser session on the test database over the unix socket."""
        sockets = PostgresLayout.under(self.state_dir).sockets
        with psycopg.connect(
            host=str(sockets),
            port=self.port,
            user=SUPERUSER,
            dbname=TEST_DATABASE,
            autocommit=True,
        ) as connection:
            yield connection

    def wait_for_writing_transaction(self, application_name: str, timeout_s: float) -> bool:
        """Wait until a session of ``application_name`` is inside a transaction that has
        started writing (it holds a transaction id); False if none did within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self.superuser() as connection:
            while time.monotonic() < deadline:
                row = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = %s AND backend_xid IS NOT NULL",
                    (application_name,),
                ).fetchone()
                if row is not None and row[0]:
                    return True
                time.sleep(0.002)
        return False

    def drop_schemas(self, prefix: str) -> list[str]:
        """Drop the schemas whose names start with ``prefix``."""
        with self.superuser() as connection:
            names = [
                str(row[0])
                for row in connection.execute(
                    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
                )
            ]
            for name in names:
                connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        return names

    def terminate_sessions(self, application_name: str) -> int:
        """End every session opened under ``application_name``; return how many."""
        with self.superuser() as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (application_name,),
            ).fetchall()
        log.info("terminated %d sessions of %s", len(rows), application_name)
        return len(rows)


def with_application_name(database_url: str, application_name: str) -> str:
    """The URL with ``application_name`` set on PostgreSQL sessions (unchanged for SQLite)."""
    if not database_url.startswith("postgresql"):
        return database_url
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}application_name={application_name}"
