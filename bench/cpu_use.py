"""Where a run's CPU goes: the machine's busy time, split into PostgreSQL, the broker and
the rest (the projector's or replay's own processes, and whatever else ran).

Read from ``/proc`` before and after the timed part of a run, so that it needs nothing of
the processes it measures. PostgreSQL is every local process named ``postgres``: live
backends by their own time, ended ones by the time the server's main process has reaped
(its children's time). The broker is the local process running ``kafka.Kafka``. A service
that is not on this machine (a remote ``DATABASE_URL``) has no local process: its share is
then None, and its work is missing from the total rather than counted as the projector's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PARTS = ("projector", "postgres", "broker")
"""The shares of :func:`split`, besides ``total``."""


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds at one moment (None: no such process here)."""

    busy: float
    postgres: float | None
    broker: float | None


def machine_busy_seconds(proc: Path = PROC) -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``, idle and iowait left
    out)."""
    fields = [int(value) for value in (proc / "stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND


def process_seconds(stat: str, children: bool = False) -> float:
    """User + system CPU seconds of a ``/proc/<pid>/stat`` line (and of its reaped children)."""
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS_PER_SECOND


def sample(proc: Path = PROC) -> CpuSample:
    """The machine's busy time and that of the local PostgreSQL and broker processes."""
    postgres: float | None = None
    broker: float | None = None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes() if name == "java" else b""
        except OSError:
            continue
        if name == "postgres":
            postgres = (postgres or 0.0) + process_seconds(stat, children=True)
        elif b"kafka.Kafka" in command:
            broker = (broker or 0.0) + process_seconds(stat)
    return CpuSample(machine_busy_seconds(proc), postgres, broker)


def split(before: CpuSample, after: CpuSample, events: int) -> dict[str, float | None]:
    """Microseconds of CPU per event between two samples: total, and its shares."""

    def per_event(start: float | None, end: float | None) -> float | None:
        if start is None or end is None:
            return None
        return round((end - start) / events * 1e6, 1)

    total = per_event(before.busy, after.busy)
    assert total is not None
    postgres = per_event(before.postgres, after.postgres)
    broker = per_event(before.broker, after.broker)
    return {
        "total": total,
        "projector": round(total - (postgres or 0.0) - (broker or 0.0), 1),
        "postgres": postgres,
        "broker": broker,
    }


@contextmanager
def metered(events: int) -> Iterator[dict[str, float | None]]:
    """The :func:`split` of the block's CPU over ``events``, filled in when it ends."""
    found: dict[str, float | None] = {}
    before = sample()
    yield found
    found.update(split(before, sample(), events))
