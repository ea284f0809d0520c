"""``client-audit project`` as a process of its own, with its log kept in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.integration.projector_support import Topics

_SERVICE_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "TEST_DATABASE_URL")


class ProjectorProcess:
    """One run of the projector: a static group member whose stderr goes to ``log_file``.

    The log goes to a file rather than a pipe: a long run logs more than a pipe holds, and
    a full pipe would block the process.
    """

    def __init__(self, command: list[str], log_file: Path, output_file: Path) -> None:
        self.log_file = log_file
        self.output_file = output_file
        with log_file.open("wb") as log, output_file.open("wb") as output:
            environment = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARIABLES}
            self._process = subprocess.Popen(
                command, stdout=output, stderr=log, stdin=subprocess.DEVNULL, env=environment
            )

    @classmethod
    def spawn(
        cls,
        topics: Topics,
        database_url: str,
        group: str,
        instance_id: str,
        batch_size: int,
        log_dir: Path,
        until_caught_up: bool = False,
    ) -> ProjectorProcess:
        command = topics.project_command(database_url, group, batch_size, until_caught_up)
        command += ["--instance-id", instance_id]
        runs = len(list(log_dir.glob("projector-*.log")))
        return cls(
            command,
            log_dir / f"projector-{runs + 1:02d}.log",
            log_dir / f"projector-{runs + 1:02d}.out",
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> int:
        """SIGKILL: the process gets no chance to finish anything."""
        self._process.kill()
        return self._process.wait(timeout=30)

    def terminate(self, timeout_s: float = 120.0) -> int:
        """SIGTERM: the projector finishes its batch, commits and exits."""
        self._process.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float) -> int:
        return self._process.wait(timeout=timeout_s)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def report(self) -> dict[str, Any]:
        """The JSON summary the command prints when it exits normally."""
        report: dict[str, Any] = json.loads(self.output_file.read_text())
        return report

    def ensure_stopped(self) -> None:
        """Kill the process if a failed drill left it running."""
        if self.alive():
            self._process.kill()
            self._process.wait(timeout=30)
