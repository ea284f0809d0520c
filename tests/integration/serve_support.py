"""Running `client-audit serve` as a real process for the HTTP tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devservices.ports import free_port

FILE_LIMIT = 256
"""Open files the served process may hold."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(
    database_url: str, token: str, log_dir: Path, *extra: str, scheme: str = "http"
) -> Server:
    """``client-audit serve`` on a free port over ``database_url``, with FILE_LIMIT open
    files at most, once it accepts connections."""
    url = database_url
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    env = {**os.environ, "CLIENT_AUDIT_API_TOKENS": f'["{token}"]'}
    limited = ["sh", "-c", f'ulimit -n {FILE_LIMIT} && exec "$0" "$@"', sys.executable]
    process = subprocess.Popen(
        [*limited, "-m", "client_audit.cli", "--database-url", url, "serve",
         "--port", str(port), *extra],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
    )
    server = Server(process, f"{scheme}://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if process.poll() is not None:
                raise AssertionError(server.log_text()) from None
            time.sleep(0.1)
    raise AssertionError(f"serve did not listen on {port}:\n{server.log_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(5)
