"""Detached service processes: launching, recognising, stopping, and reading their logs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_POLL_S = 0.2
_KILL_WAIT_S = 10.0
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn_detached(args: Sequence[str], output: Path, cwd: Path) -> int:
    """Start ``args`` in its own session with stdout and stderr appended to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as sink:
        child = subprocess.Popen(
            list(args),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[child.pid] = child
    return child.pid


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def command_line(pid: int) -> list[str]:
    """The arguments ``pid`` was started with (empty if unknown)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_service_process(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and was started with an argument containing ``marker``."""
    return is_alive(pid) and any(marker in argument for argument in command_line(pid))


def terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout_s``, then SIGKILL. True if it exited on SIGTERM."""
    if not _signal(pid, signal.SIGTERM):
        return True
    if wait_for_exit(pid, timeout_s):
        return True
    log.warning("process ignored SIGTERM, sending SIGKILL pid=%d timeout_s=%.0f", pid, timeout_s)
    _signal(pid, signal.SIGKILL)
    wait_for_exit(pid, _KILL_WAIT_S)
    return False


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` is gone; False if it is still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that it does not exist."""
    try:
        content = path.read_text(errors="replace")
    except OSError:
        return f"({path} not found)"
    return "\n".join(content.splitlines()[-lines:])


def _signal(pid: int, signum: signal.Signals) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
