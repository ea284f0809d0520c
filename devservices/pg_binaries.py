"""PostgreSQL server programs from the Debian packages, installed with apt-get when missing."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from devservices.errors import ToolNotFoundError

log = logging.getLogger(__name__)

PG_LIB_ROOT = Path("/usr/lib/postgresql")
_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def find_bin_dir(major: str | None = None) -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding the server programs."""
    candidates = [
        directory / "bin"
        for directory in PG_LIB_ROOT.glob("*")
        if directory.name.isdigit() and (major is None or directory.name == major)
    ]
    complete = [
        bin_dir
        for bin_dir in candidates
        if all((bin_dir / program).is_file() for program in _PROGRAMS)
    ]
    if complete:
        return max(complete, key=lambda bin_dir: int(bin_dir.parent.name))
    if major is None:
        on_path = shutil.which("pg_ctl")
        if on_path is not None:
            return Path(on_path).resolve().parent
    return None


def ensure_bin_dir(major: str | None = None) -> Path:
    """Server programs for ``major`` (any version when ``None``), installing them if needed."""
    found = find_bin_dir(major)
    if found is not None:
        return found
    if major is not None and find_bin_dir() is not None:
        raise ToolNotFoundError(
            f"the data directory needs PostgreSQL {major}, which is not installed: "
            f"apt-get install postgresql-{major}, or stop and delete the data directory"
        )
    _install_with_apt()
    found = find_bin_dir(major)
    if found is None:
        raise ToolNotFoundError(f"apt-get installed postgresql but no server under {PG_LIB_ROOT}")
    return found


def _install_with_apt() -> None:
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        raise ToolNotFoundError(
            "PostgreSQL server programs (initdb, pg_ctl) not found; install them, "
            "e.g. as root: apt-get update && apt-get install -y postgresql"
        )
    log.info("installing postgresql with apt-get (first run only)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in ([apt_get, "update"], [apt_get, "install", "-y", "postgresql"]):
        result = subprocess.run(args, env=environment, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ToolNotFoundError(
                f"{' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
            )
