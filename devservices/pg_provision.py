"""The project's roles and databases, and the ``SELECT 1`` that says the server is usable.

Three login roles, least privilege first:

- ``client_audit`` owns both databases and everything in them: the projector, replays,
  migrations and ``client-audit tokens`` connect as it;
- ``client_audit_reader`` may read every table (``serve`` queries as it): SELECT on every
  table the owner creates, in every schema, through default privileges;
- ``client_audit_access`` may append to the access log, move its chain head and set a
  token's last use (``serve`` records requests as it): migration 0006 grants exactly that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devservices.errors import ServiceStartError
from devservices.pg_server import SUPERUSER

log = logging.getLogger(__name__)

APP_USER = "client_audit"
APP_PASSWORD = "client_audit"  # noqa: S105 - local development server only
READER_USER = "client_audit_reader"
READER_PASSWORD = "client_audit_reader"  # noqa: S105 - local development server only
ACCESS_WRITER_USER = "client_audit_access"
ACCESS_WRITER_PASSWORD = "client_audit_access"  # noqa: S105 - local development server only
SERVICE_DATABASE = "client_audit"
TEST_DATABASE = "client_audit_test"
_POLL_S = 0.5


ROLE_GRANTS = (
    "GRANT CONNECT ON DATABASE {database} TO {reader}, {writer}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT USAGE ON SCHEMAS TO {reader}, {writer}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO {reader}",
    "GRANT USAGE ON SCHEMA public TO {reader}, {writer}",
)
"""Run in each database: the reader reads whatever the owner creates; the access writer
gets its table grants from migration 0006. (docker-compose.yml's init script runs the same.)"""


def provision(sockets: Path, port: int) -> None:
    """Create (or refresh) the login roles and the two databases through the superuser
    socket, and grant the reader and the access writer what they need in each."""
    with _superuser(sockets, port, "postgres") as connection:
        _login_role(connection, APP_USER, APP_PASSWORD, "LOGIN CREATEDB")
        _login_role(connection, READER_USER, READER_PASSWORD, "LOGIN")
        _login_role(connection, ACCESS_WRITER_USER, ACCESS_WRITER_PASSWORD, "LOGIN")
        role = sql.Identifier(APP_USER)
        for database in (SERVICE_DATABASE, TEST_DATABASE):
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not found:
                log.info("creating database name=%s owner=%s", database, APP_USER)
                connection.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                        sql.Identifier(database), role
                    )
                )
    for database in (SERVICE_DATABASE, TEST_DATABASE):
        with _superuser(sockets, port, database) as connection:
            for statement in ROLE_GRANTS:
                connection.execute(sql.SQL(statement).format(
                    database=sql.Identifier(database), owner=sql.Identifier(APP_USER),
                    reader=sql.Identifier(READER_USER),
                    writer=sql.Identifier(ACCESS_WRITER_USER),
                ))


def _superuser(sockets: Path, port: int, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=str(sockets), port=port, user=SUPERUSER, dbname=database, autocommit=True
    )


def _login_role(
    connection: psycopg.Connection[Any], name: str, password: str, attributes: str
) -> None:
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    connection.execute(
        sql.SQL("{} ROLE {} {} PASSWORD {}").format(
            sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(name),
            sql.SQL(attributes), sql.Literal(password),
        )
    )


def libpq_url(sqlalchemy_url: str) -> str:
    """The ``postgresql://`` form psycopg accepts for a ``postgresql+psycopg://`` URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def select_one(url: str, timeout_s: float = 3.0) -> bool:
    """Whether ``SELECT 1`` succeeds over ``url`` (a SQLAlchemy or libpq URL)."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=max(1, int(timeout_s))) as connection:
            row = connection.execute("SELECT 1").fetchone()
    except psycopg.Error as error:
        log.debug("select 1 failed error=%s", error)
        return False
    return row == (1,)


def wait_until_answering(urls: Iterable[str], timeout_s: float) -> None:
    """Block until every URL answers ``SELECT 1``, or raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    for url in urls:
        while not select_one(url):
            if time.monotonic() >= deadline:
                raise ServiceStartError(
                    f"postgresql did not answer SELECT 1 within {timeout_s:.0f}s"
                )
            time.sleep(_POLL_S)
