"""What ``status`` reports about one local service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServiceStatus:
    """A service's process, whether it answers, and the variables clients connect with."""

    service: str
    home: Path
    pid: int | None = None
    answering: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.pid is not None

    def describe(self) -> str:
        """One human-readable line."""
        if self.pid is None:
            return f"{self.service}: stopped (state {self.home})"
        health = "answering" if self.answering else "NOT answering"
        where = " ".join(f"{name}={value}" for name, value in self.variables.items())
        return f"{self.service}: running pid={self.pid} {health} {where} (state {self.home})"
