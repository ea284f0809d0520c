"""One PostgreSQL cluster under ``<state>/postgres``: initdb, configuration, pg_ctl."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devservices.errors import DevServiceError, ServiceStartError, ServiceStopError
from devservices.ports import LOOPBACK
from devservices.processes import is_service_process, tail

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"
_INCLUDE_LINE = "include_if_exists = 'devservices.conf'"


@dataclass(frozen=True)
class PostgresLayout:
    """Paths of one local cluster."""

    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> PostgresLayout:
        """The cluster of a state directory: ``<state>/postgres``, or, when root runs it
        from a state directory the server account cannot reach (a clone inside a home
        directory of mode 0700), ``~postgres/client-audit/<digest of the state dir>/postgres``;
        a note in the state directory names that place."""
        beside = state_dir / "postgres"
        if os.geteuid() != 0 or _traversable(state_dir):
            return cls(beside)
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
        relocated = cls(_server_home() / "client-audit" / digest / "postgres")
        _leave_note(state_dir, relocated.root)
        return relocated

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "postgres.log"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def initialized_major(self) -> str | None:
        try:
            return (self.data / "PG_VERSION").read_text().strip()
        except OSError:
            return None


@dataclass(frozen=True)
class Postmaster:
    """The running server as recorded in ``postmaster.pid``."""

    pid: int
    port: int


def running_postmaster(layout: PostgresLayout) -> Postmaster | None:
    """The live postmaster of this data directory, if any."""
    try:
        lines = (layout.data / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if not is_service_process(pid, str(layout.data)):
        return None
    return Postmaster(pid, port)


LOCATION_NOTE = "postgres-location.txt"
"""In a state directory whose cluster lives elsewhere: where it lives."""


def _server_home() -> Path:
    try:
        return Path(pwd.getpwnam(SERVER_OS_USER).pw_dir)
    except KeyError as error:
        raise DevServiceError(
            f"running as root needs the OS user {SERVER_OS_USER!r} (created by the "
            "postgresql package) to run the PostgreSQL server"
        ) from error


def _leave_note(state_dir: Path, root: Path) -> None:
    note = state_dir / LOCATION_NOTE
    text = (
        f"The PostgreSQL cluster of this state directory lives in {root}:\n"
        f"the {SERVER_OS_USER} account cannot reach {state_dir}.\n"
    )
    if not note.exists() or note.read_text() != text:
        state_dir.mkdir(parents=True, exist_ok=True)
        note.write_text(text)


def prepare_directories(layout: PostgresLayout) -> None:
    """Create the cluster's directories, owned by the account the server runs as."""
    layout.root.mkdir(mode=0o755, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _check_traversable(layout.root)
    if not layout.data.exists():
        layout.data.mkdir(mode=0o700)
        _give_to_server_user(layout.data)
    for directory in (layout.sockets, layout.logs):
        directory.mkdir(exist_ok=True)
        _give_to_server_user(directory)


def initdb(bin_dir: Path, layout: PostgresLayout) -> None:
    """Create the cluster: UTF-8, trust on the socket, SCRAM passwords on loopback TCP."""
    log.info("initializing postgresql cluster dir=%s", layout.data)
    _run(
        bin_dir / "initdb",
        "-D",
        str(layout.data),
        "-U",
        SUPERUSER,
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
        failure=ServiceStartError,
    )
    postgresql_conf = layout.data / "postgresql.conf"
    with postgresql_conf.open("a") as conf:
        conf.write(f"\n{_INCLUDE_LINE}\n")


def configure(layout: PostgresLayout, port: int) -> None:
    """Write the settings this project runs the server with."""
    settings = {
        "listen_addresses": LOOPBACK,
        "port": str(port),
        "unix_socket_directories": str(layout.sockets),
        "timezone": "UTC",
        "log_timezone": "UTC",
    }
    conf_file = layout.data / "devservices.conf"
    conf_file.write_text("".join(f"{key} = {_quote(value)}\n" for key, value in settings.items()))
    _give_to_server_user(conf_file)


def pg_ctl_start(bin_dir: Path, layout: PostgresLayout, timeout_s: float) -> None:
    """Start the server and wait until it accepts connections."""
    try:
        _run(
            bin_dir / "pg_ctl",
            "start",
            "-D",
            str(layout.data),
            "-l",
            str(layout.log_file),
            "-w",
            "-t",
            str(int(timeout_s)),
            failure=ServiceStartError,
        )
    except ServiceStartError as error:
        raise ServiceStartError(
            f"{error}\n--- {layout.log_file} ---\n{tail(layout.log_file)}"
        ) from error


def pg_ctl_stop(bin_dir: Path, layout: PostgresLayout, timeout_s: float) -> None:
    """Fast shutdown: roll back open transactions, disconnect clients, checkpoint."""
    _run(
        bin_dir / "pg_ctl",
        "stop",
        "-D",
        str(layout.data),
        "-m",
        "fast",
        "-w",
        "-t",
        str(int(timeout_s)),
        failure=ServiceStopError,
    )


def _run(program: Path, *args: str, failure: type[DevServiceError]) -> None:
    command = [str(program), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=False,
    )
    if result.returncode != 0:
        raise failure(
            f"{program.name} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(SERVER_OS_USER)
    except KeyError as error:
        raise DevServiceError(
            f"running as root needs the OS user {SERVER_OS_USER!r} (created by the "
            "postgresql package) to own the PostgreSQL data directory"
        ) from error
    os.chown(path, account.pw_uid, account.pw_gid)


def _traversable(directory: Path) -> bool:
    """Whether every existing directory from the root down to ``directory`` lets others
    pass (the server account is "others" to a root-owned tree)."""
    for ancestor in (directory, *directory.parents):
        if ancestor.exists() and not ancestor.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _check_traversable(directory: Path) -> None:
    for ancestor in (directory, *directory.parents):
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            raise DevServiceError(
                f"the {SERVER_OS_USER} account cannot reach {directory}: {ancestor} is not "
                f"searchable by others (chmod o+x {ancestor}, or set a different state dir)"
            )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
