"""Scratch directories that say whose they are, so that those a killed process left are
found and removed.

A directory made by :func:`make_owned` holds an owner file, ``<host> <pid>``. A process
killed outright (SIGKILL, the OOM killer, a lost machine) cannot remove its scratch
directory; :func:`remove_abandoned`, called by the next process that makes one beside it,
removes every directory of the same prefix whose owner on this host is gone. Those of
running processes, of other hosts (a shared file system), of other users (a shared
temporary directory), with an owner file that names no process, and links stay; one
without an owner file goes only when the caller says after how long (its maker writes the
file straight after making the directory), so that a directory disowned on purpose
(:func:`disown`, e.g. one kept for the user) stays.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_FILE = "owner"
"""In each owned directory: ``<host> <pid>`` of the process that made it."""

_PID_MAX = 2**22
"""The largest process id Linux hands out (``pid_max``'s ceiling)."""


def make_owned(parent: Path, prefix: str) -> Path:
    """A new directory in ``parent`` named ``prefix…``, owned by this process (OSError when
    it cannot be made or its owner file written; nothing is then left behind)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        (directory / OWNER_FILE).write_text(
            f"{socket.gethostname()} {os.getpid()}\n", encoding="ascii"
        )
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory


def disown(directory: Path) -> None:
    """Keep ``directory`` from ever counting as abandoned (its owner file goes)."""
    (directory / OWNER_FILE).unlink(missing_ok=True)


def remove_abandoned(
    parent: Path, prefix: str, unclaimed_after_s: float | None = None, now: float | None = None
) -> list[Path]:
    """Remove the directories ``prefix…`` in ``parent`` that processes killed outright left,
    and return them: owned by a process of this host that is gone, or, with
    ``unclaimed_after_s``, without an owner file and older than that."""
    moment = time.time() if now is None else now
    removed = []
    try:
        candidates = sorted(parent.glob(f"{prefix}*"))
    except OSError as exc:
        log.warning("cannot look for abandoned scratch directories in %s: %s", parent, exc)
        return []
    for candidate in candidates:
        if candidate.is_symlink() or not candidate.is_dir():
            continue
        if not _abandoned(candidate, moment, unclaimed_after_s):
            continue
        size = _size(candidate)
        shutil.rmtree(candidate, ignore_errors=True)
        log.warning(
            "removed %s (%.1f MB), left behind by an interrupted process", candidate, size / 1e6
        )
        removed.append(candidate)
    return removed


def _size(directory: Path) -> int:
    try:
        return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())
    except OSError:
        return 0


def _abandoned(candidate: Path, now: float, unclaimed_after_s: float | None) -> bool:
    try:
        if candidate.lstat().st_uid != os.getuid():
            return False
        owner = (candidate / OWNER_FILE).read_text(encoding="ascii")
    except FileNotFoundError:
        if unclaimed_after_s is None:
            return False
        try:
            return now - candidate.stat().st_mtime > unclaimed_after_s
        except OSError:
            return False
    except (OSError, UnicodeError):
        return False
    host, _, pid = owner.strip().partition(" ")
    if host != socket.gethostname() or not pid.isdigit() or not 0 < int(pid) <= _PID_MAX:
        return False
    return not _running(int(pid))


def _running(pid: int) -> bool:
    """Whether ``pid`` names a process (one of another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
