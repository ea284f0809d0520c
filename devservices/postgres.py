"""A local PostgreSQL server for development and tests: start, reuse, stop."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from devservices.errors import ServiceStopError
from devservices.exports import (
    ACCESS_LOG_DATABASE_URL,
    DATABASE_URL,
    READER_DATABASE_URL,
    TEST_ACCESS_LOG_DATABASE_URL,
    TEST_DATABASE_URL,
    TEST_READER_DATABASE_URL,
)
from devservices.pg_binaries import ensure_bin_dir
from devservices.pg_provision import (
    ACCESS_WRITER_PASSWORD,
    ACCESS_WRITER_USER,
    APP_PASSWORD,
    APP_USER,
    READER_PASSWORD,
    READER_USER,
    SERVICE_DATABASE,
    TEST_DATABASE,
    provision,
    select_one,
    wait_until_answering,
)
from devservices.pg_server import (
    PostgresLayout,
    configure,
    initdb,
    pg_ctl_start,
    pg_ctl_stop,
    prepare_directories,
    running_postmaster,
)
from devservices.ports import LOOPBACK, stable_ports
from devservices.processes import is_alive
from devservices.state import clear_env, locked, resolve_state_dir, write_env
from devservices.status import ServiceStatus

__all__ = ["PostgresUrls", "ensure_running", "status", "stop"]

log = logging.getLogger(__name__)

SERVICE = "postgres"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
_PORT_NAME = "postgres"


@dataclass(frozen=True)
class PostgresUrls:
    """SQLAlchemy URLs of the service database and of the test database, as the owner, the
    read-only role and the access-log writer."""

    service_url: str
    test_url: str
    reader_url: str
    test_reader_url: str
    access_log_url: str
    test_access_log_url: str

    @classmethod
    def on_port(cls, port: int) -> PostgresUrls:
        def base(user: str, password: str) -> str:
            return f"postgresql+psycopg://{user}:{password}@{LOOPBACK}:{port}"

        owner = base(APP_USER, APP_PASSWORD)
        reader = base(READER_USER, READER_PASSWORD)
        writer = base(ACCESS_WRITER_USER, ACCESS_WRITER_PASSWORD)
        return cls(
            f"{owner}/{SERVICE_DATABASE}", f"{owner}/{TEST_DATABASE}",
            f"{reader}/{SERVICE_DATABASE}", f"{reader}/{TEST_DATABASE}",
            f"{writer}/{SERVICE_DATABASE}", f"{writer}/{TEST_DATABASE}",
        )

    def variables(self) -> dict[str, str]:
        return {
            DATABASE_URL: self.service_url,
            TEST_DATABASE_URL: self.test_url,
            READER_DATABASE_URL: self.reader_url,
            TEST_READER_DATABASE_URL: self.test_reader_url,
            ACCESS_LOG_DATABASE_URL: self.access_log_url,
            TEST_ACCESS_LOG_DATABASE_URL: self.test_access_log_url,
        }


EXTERNAL_NAMES = (
    DATABASE_URL, TEST_DATABASE_URL, READER_DATABASE_URL, TEST_READER_DATABASE_URL,
    ACCESS_LOG_DATABASE_URL, TEST_ACCESS_LOG_DATABASE_URL,
)


def external_variables() -> dict[str, str] | None:
    """``$DATABASE_URL`` (and the other URLs of :class:`PostgresUrls` that are set) when the
    environment already names a database."""
    if not os.environ.get(DATABASE_URL):
        return None
    return {name: os.environ[name] for name in EXTERNAL_NAMES if os.environ.get(name)}


def ensure_running(
    state_dir: Path | None = None, timeout_s: float = READY_TIMEOUT_S
) -> PostgresUrls:
    """Reuse the server of ``state_dir`` if it answers, else start it; return its URLs."""
    state_dir = resolve_state_dir(state_dir)
    layout = PostgresLayout.under(state_dir)
    with locked(layout.lock_file):
        postmaster = running_postmaster(layout)
        if postmaster is None:
            port = _start(layout, timeout_s)
        else:
            port = postmaster.port
            log.info("postgresql reused pid=%d port=%d", postmaster.pid, port)
        provision(layout.sockets, port)
        urls = PostgresUrls.on_port(port)
        wait_until_answering(
            (urls.service_url, urls.test_url, urls.test_reader_url, urls.test_access_log_url),
            timeout_s,
        )
        write_env(state_dir, SERVICE, urls.variables())
    return urls


def stop(state_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the server of ``state_dir`` with ``pg_ctl stop -m fast``."""
    state_dir = resolve_state_dir(state_dir)
    layout = PostgresLayout.under(state_dir)
    with locked(layout.lock_file):
        postmaster = running_postmaster(layout)
        if postmaster is None:
            log.info("postgresql not running state=%s", layout.root)
        else:
            log.info("stopping postgresql pid=%d", postmaster.pid)
            started = time.monotonic()
            pg_ctl_stop(ensure_bin_dir(layout.initialized_major), layout, timeout_s)
            if is_alive(postmaster.pid):
                raise ServiceStopError(f"postgresql pid {postmaster.pid} is still alive")
            log.info(
                "postgresql stopped pid=%d elapsed_s=%.1f",
                postmaster.pid,
                time.monotonic() - started,
            )
        clear_env(state_dir, SERVICE)


def status(state_dir: Path | None = None) -> ServiceStatus:
    """The server's pid, whether the service database answers, and its URLs."""
    layout = PostgresLayout.under(resolve_state_dir(state_dir))
    postmaster = running_postmaster(layout)
    if postmaster is None:
        return ServiceStatus(SERVICE, layout.root)
    urls = PostgresUrls.on_port(postmaster.port)
    return ServiceStatus(
        SERVICE,
        layout.root,
        pid=postmaster.pid,
        answering=select_one(urls.service_url),
        variables=urls.variables(),
    )


def _start(layout: PostgresLayout, timeout_s: float) -> int:
    started = time.monotonic()
    bin_dir = ensure_bin_dir(layout.initialized_major)
    prepare_directories(layout)
    if layout.initialized_major is None:
        initdb(bin_dir, layout)
    port = stable_ports(layout.ports_file, (_PORT_NAME,))[_PORT_NAME]
    configure(layout, port)
    pg_ctl_start(bin_dir, layout, timeout_s)
    log.info(
        "postgresql started port=%d bin=%s elapsed_s=%.1f",
        port,
        bin_dir,
        time.monotonic() - started,
    )
    return port
