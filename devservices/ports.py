"""Loopback ports: free ones, and the same ones again after a restart."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Iterable
from pathlib import Path

from devservices.state import load_ports, save_ports

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 15000
_ATTEMPTS = 200


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``host:port`` now (as Kafka and PostgreSQL bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(exclude: Iterable[int] = (), host: str = LOOPBACK) -> int:
    """A free port below the kernel's ephemeral range, so client sockets never take it later."""
    excluded = set(exclude)
    highest = _ephemeral_range_start() - 1
    if highest > _LOWEST_PORT:
        for _ in range(_ATTEMPTS):
            candidate = random.randint(_LOWEST_PORT, highest)
            if candidate not in excluded and is_free(candidate, host):
                return candidate
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            candidate = int(probe.getsockname()[1])
        if candidate not in excluded:
            return candidate


def stable_ports(ports_file: Path, names: Iterable[str], host: str = LOOPBACK) -> dict[str, int]:
    """One port per name: the saved one while it is free, otherwise a new one (then saved)."""
    saved = load_ports(ports_file)
    chosen: dict[str, int] = {}
    for name in names:
        port = saved.get(name)
        if port is None or port in chosen.values() or not is_free(port, host):
            if port is not None:
                log.warning("saved port busy, choosing another name=%s port=%d", name, port)
            port = free_port(exclude=chosen.values(), host=host)
        chosen[name] = port
    save_ports(ports_file, chosen)
    return chosen


def _ephemeral_range_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
