"""The processes a command started, seen from outside through /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path


def gone_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def spawned_children(pid: int) -> list[int]:
    """The processes that multiprocessing spawned from process ``pid`` (its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Return once ``condition`` holds; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_until_stopped(pids: Collection[int], what: str, timeout_s: float = 30.0) -> None:
    """Return once every one of ``pids`` has exited; after ``timeout_s`` fail the test naming
    ``what``, SIGKILLing those still running (which a failed test must not leave behind)."""
    try:
        wait_for(lambda: not any(running(pid) for pid in pids), what, timeout_s)
    finally:
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
