"""Scratch directories that bulk replays killed outright left beside a SQLite target: the
next bulk replay there removes those whose process is gone, and only those."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from projections.bulk.scratch import OWNER_FILE, SCRATCH_PREFIX, UNCLAIMED_AFTER_S, remove_abandoned


def gone_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def scratch(directory: Path, name: str, owner: str | None) -> Path:
    made = directory / f"{SCRATCH_PREFIX}{name}"
    made.mkdir()
    (made / "worker-1.db").write_bytes(b"\0" * 4096)
    if owner is not None:
        (made / OWNER_FILE).write_text(owner, encoding="ascii")
    return made


def test_the_directory_of_a_process_that_is_gone_is_removed(tmp_path: Path) -> None:
    left = scratch(tmp_path, "left", f"{socket.gethostname()} {gone_pid()}\n")
    assert remove_abandoned(tmp_path) == [left]
    assert not left.exists()


def test_the_directory_of_a_running_process_stays(tmp_path: Path) -> None:
    running = scratch(tmp_path, "running", f"{socket.gethostname()} {os.getpid()}\n")
    assert remove_abandoned(tmp_path) == []
    assert (running / "worker-1.db").exists()


def test_the_directory_of_another_host_stays(tmp_path: Path) -> None:
    other = scratch(tmp_path, "other", f"not-{socket.gethostname()} {gone_pid()}\n")
    assert remove_abandoned(tmp_path) == []
    assert other.exists()


def test_an_owner_file_that_names_no_process_keeps_its_directory(tmp_path: Path) -> None:
    host = socket.gethostname()
    kept = [
        scratch(tmp_path, "empty", ""),
        scratch(tmp_path, "word", f"{host} pid\n"),
        scratch(tmp_path, "zero", f"{host} 0\n"),
        scratch(tmp_path, "huge", f"{host} {10**30}\n"),
        scratch(tmp_path, "negative", f"{host} -1\n"),
    ]
    (tmp_path / f"{SCRATCH_PREFIX}binary").mkdir()
    (tmp_path / f"{SCRATCH_PREFIX}binary" / OWNER_FILE).write_bytes(b"\xff\xfe\0")
    assert remove_abandoned(tmp_path) == []
    assert all(path.exists() for path in kept)


def test_an_unclaimed_directory_goes_only_once_old(tmp_path: Path) -> None:
    fresh = scratch(tmp_path, "fresh", None)
    old = scratch(tmp_path, "old", None)
    long_ago = time.time() - UNCLAIMED_AFTER_S - 60
    os.utime(old, (long_ago, long_ago))
    assert remove_abandoned(tmp_path) == [old]
    assert fresh.exists()


def test_other_names_links_and_files_are_left_alone(tmp_path: Path) -> None:
    dead = f"{socket.gethostname()} {gone_pid()}\n"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = scratch(elsewhere, "target", dead)
    (tmp_path / f"{SCRATCH_PREFIX}link").symlink_to(target)
    (tmp_path / f"{SCRATCH_PREFIX}file").write_text(dead, encoding="ascii")
    unrelated = tmp_path / "replay-scratch"
    unrelated.mkdir()
    (unrelated / OWNER_FILE).write_text(dead, encoding="ascii")
    assert remove_abandoned(tmp_path) == []
    assert target.exists() and unrelated.exists()
    assert (tmp_path / f"{SCRATCH_PREFIX}file").exists()


def test_a_directory_that_cannot_be_listed_removes_nothing(tmp_path: Path) -> None:
    assert remove_abandoned(tmp_path / "missing") == []
