"""The project's role and databases, and the ``SELECT 1`` that says the server is usable."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg import sql

from devservices.errors import ServiceStartError
from devservices.pg_server import SUPERUSER

log = logging.getLogger(__name__)

APP_USER = "client_audit"
APP_PASSWORD = "client_audit"  # noqa: S105 - local development server only
SERVICE_DATABASE = "client_audit"
TEST_DATABASE = "client_audit_test"
_POLL_S = 0.5


def provision(sockets: Path, port: int) -> None:
    """Create (or refresh) the login role and its two databases through the superuser socket."""
    with psycopg.connect(
        host=str(sockets), port=port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as connection:
        role = sql.Identifier(APP_USER)
        exists = connection.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_USER,)
        ).fetchone()
        verb = sql.SQL("ALTER" if exists else "CREATE")
        connection.execute(
            sql.SQL("{} ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                verb, role, sql.Literal(APP_PASSWORD)
            )
        )
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
