"""Exponential backoff that a stop request can interrupt."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Backoff:
    initial_s: float = 0.5
    maximum_s: float = 5.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum_s, self.initial_s * 2.0**self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0

    def wait(self, stop: threading.Event) -> bool:
        """Sleep the next delay; False when a stop was requested meanwhile."""
        return not stop.wait(self.next_delay())
