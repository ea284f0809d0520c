"""Owned scratch directories: those that processes killed outright left are removed by the
next process making one beside them, and only those."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from projections.bulk.owned import OWNER_FILE, disown, make_owned, remove_abandoned
from projections.bulk.scratch import SCRATCH_PREFIX, UNCLAIMED_AFTER_S
from tests.integration.process_support import gone_pid


def scratch(directory: Path, name: str, owner: str | None) -> Path:
    made = directory / f"{SCRATCH_PREFIX}{name}"
    made.mkdir()
    (made / "worker-1.db").write_bytes(b"\0" * 4096)
    if owner is not None:
        (made / OWNER_FILE).write_text(owner, encoding="ascii")
    return made


def test_the_directory_of_a_process_that_is_gone_is_removed(tmp_path: Path) -> None:
    left = scratch(tmp_path, "left", f"{socket.gethostname()} {gone_pid()}\n")
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == [left]
    assert not left.exists()


def test_the_directory_of_a_running_process_stays(tmp_path: Path) -> None:
    running = scratch(tmp_path, "running", f"{socket.gethostname()} {os.getpid()}\n")
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == []
    assert (running / "worker-1.db").exists()


def test_the_directory_of_another_host_stays(tmp_path: Path) -> None:
    other = scratch(tmp_path, "other", f"not-{socket.gethostname()} {gone_pid()}\n")
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == []
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
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == []
    assert all(path.exists() for path in kept)


def test_an_unclaimed_directory_goes_only_once_old(tmp_path: Path) -> None:
    fresh = scratch(tmp_path, "fresh", None)
    old = scratch(tmp_path, "old", None)
    long_ago = time.time() - UNCLAIMED_AFTER_S - 60
    os.utime(old, (long_ago, long_ago))
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == [old]
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
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == []
    assert target.exists() and unrelated.exists()
    assert (tmp_path / f"{SCRATCH_PREFIX}file").exists()


def test_a_directory_that_cannot_be_listed_removes_nothing(tmp_path: Path) -> None:
    assert remove_abandoned(tmp_path / "missing", SCRATCH_PREFIX) == []


def test_without_a_time_limit_an_unclaimed_directory_stays(tmp_path: Path) -> None:
    old = scratch(tmp_path, "old", None)
    os.utime(old, (0, 0))
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX) == []
    assert old.exists()


def test_only_the_prefix_asked_for_is_removed(tmp_path: Path) -> None:
    dead = f"{socket.gethostname()} {gone_pid()}\n"
    ours = scratch(tmp_path, "ours", dead)
    theirs = tmp_path / "client-audit-verify-theirs"
    theirs.mkdir()
    (theirs / OWNER_FILE).write_text(dead, encoding="ascii")
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX) == [ours]
    assert theirs.exists()


def test_a_made_directory_is_owned_by_this_process_until_disowned(tmp_path: Path) -> None:
    made = make_owned(tmp_path, SCRATCH_PREFIX)
    assert made.parent == tmp_path and made.name.startswith(SCRATCH_PREFIX)
    assert (made / OWNER_FILE).read_text() == f"{socket.gethostname()} {os.getpid()}\n"
    disown(made)
    assert not (made / OWNER_FILE).exists()
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, now=time.time() + 10**6) == []
    assert made.exists(), "without a time limit, a disowned directory is never abandoned"


def test_no_owner_file_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(PermissionError):
        make_owned(tmp_path, SCRATCH_PREFIX)
    assert list(tmp_path.iterdir()) == []


def test_the_directory_of_another_user_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = scratch(tmp_path, "left", f"{socket.gethostname()} {gone_pid()}\n")
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    assert remove_abandoned(tmp_path, SCRATCH_PREFIX, UNCLAIMED_AFTER_S) == []
    assert left.exists()
