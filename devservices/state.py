"""The state directory: where services keep data, logs, pid files, ports and env files."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from devservices.exports import export_lines

STATE_DIR_ENV = "CLIENT_AUDIT_STATE_DIR"
ENV_FILE_NAME = "devservices.env"
_SERVICE_ENV_FILE = "env.sh"


def project_root() -> Path:
    """The directory holding ``pyproject.toml``: beside this package, else from cwd upwards."""
    beside_package = Path(__file__).resolve().parent.parent
    if (beside_package / "pyproject.toml").is_file():
        return beside_package
    cwd = Path.cwd().resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return cwd


def default_state_dir() -> Path:
    """``$CLIENT_AUDIT_STATE_DIR`` if set, else ``<project root>/.local``."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return project_root() / ".local"


def resolve_state_dir(state_dir: Path | None) -> Path:
    """An absolute, existing state directory (the default one when ``None``)."""
    resolved = default_state_dir() if state_dir is None else state_dir.expanduser().resolve()
    resolved.mkdir(parents=True, exist_ok=True)
    return resolved


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` so only one process starts or stops a service."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file``, or ``None`` if absent or unreadable."""
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    """Record ``pid`` in ``pid_file``."""
    pid_file.write_text(f"{pid}\n")


def load_ports(ports_file: Path) -> dict[str, int]:
    """Ports saved by an earlier start, by listener name."""
    try:
        saved = json.loads(ports_file.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    return {str(name): int(port) for name, port in saved.items() if isinstance(port, int)}


def save_ports(ports_file: Path, ports: Mapping[str, int]) -> None:
    """Remember the ports a service was started on, so a restart can use them again."""
    ports_file.write_text(json.dumps(dict(ports), indent=2, sort_keys=True) + "\n")


def write_env(state_dir: Path, service: str, variables: Mapping[str, str]) -> None:
    """Publish a running service's variables and refresh ``<state>/devservices.env``."""
    service_file = state_dir / service / _SERVICE_ENV_FILE
    service_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(service_file, "".join(f"{line}\n" for line in export_lines(variables)))
    _write_combined_env(state_dir)


def clear_env(state_dir: Path, service: str) -> None:
    """Withdraw a stopped service's variables and refresh ``<state>/devservices.env``."""
    (state_dir / service / _SERVICE_ENV_FILE).unlink(missing_ok=True)
    _write_combined_env(state_dir)


def _write_combined_env(state_dir: Path) -> None:
    parts = sorted(state_dir.glob(f"*/{_SERVICE_ENV_FILE}"))
    _write_private(state_dir / ENV_FILE_NAME, "".join(part.read_text() for part in parts))


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only: exports may hold passwords."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
