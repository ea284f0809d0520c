"""The bench's CPU split: /proc read right, PostgreSQL and the broker told apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cpu_use

TICKS = cpu_use.TICKS_PER_SECOND


def stat_line(pid: int, name: str, user: int, system: int, child_user: int = 0,
              child_system: int = 0) -> str:
    """A /proc/<pid>/stat line: fields 14-17 are utime, stime, cutime, cstime."""
    return (f"{pid} ({name}) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 "
            f"{user} {system} {child_user} {child_system} 20 0 1 0 100 1000 10\n")


def fake_proc(root: Path, busy: tuple[int, ...], processes: list[tuple[int, str, str, str]]
              ) -> Path:
    """A /proc with a cpu line (user nice system idle iowait irq softirq steal) and
    processes given as (pid, comm, cmdline, stat)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text("cpu  " + " ".join(map(str, busy)) + " 0 0\ncpu0 1 2 3\n")
    (root / "self").mkdir(exist_ok=True)
    for pid, comm, cmdline, stat in processes:
        folder = root / str(pid)
        folder.mkdir()
        (folder / "comm").write_text(comm + "\n")
        (folder / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode())
        (folder / "stat").write_text(stat)
    return root


def test_a_stat_line_with_brackets_and_spaces_in_its_name_is_read_from_the_last_bracket(
) -> None:
    line = stat_line(7, "a (b) c", user=3 * TICKS, system=TICKS, child_user=5 * TICKS)
    assert cpu_use.process_seconds(line) == 4.0
    assert cpu_use.process_seconds(line, children=True) == 9.0


def test_postgres_counts_its_reaped_backends_and_the_broker_is_the_kafka_java(
    tmp_path: Path,
) -> None:
    before = fake_proc(tmp_path / "before", (100, 0, 50, 900, 30, 5, 5, 0), [
        (10, "postgres", "postgres -D data", stat_line(10, "postgres", 1, 1, 10, 0)),
        (11, "postgres", "postgres: backend", stat_line(11, "postgres", 20, 0)),
        (20, "java", "java -cp x kafka.Kafka server.properties", stat_line(20, "java", 40, 0)),
        (21, "java", "java -jar other.jar", stat_line(21, "java", 500, 0)),
        (30, "python", "python -m bench", stat_line(30, "python", 90, 0)),
    ])
    # The backend ended: its time moved to the server's children's time.
    after = fake_proc(tmp_path / "after", (100 + 300, 0, 50 + 100, 900, 30, 5, 5, 0), [
        (10, "postgres", "postgres -D data", stat_line(10, "postgres", 1, 1, 10 + 20 + 60, 0)),
        (20, "java", "java -cp x kafka.Kafka server.properties", stat_line(20, "java", 80, 0)),
        (21, "java", "java -jar other.jar", stat_line(21, "java", 900, 0)),
    ])
    first, second = cpu_use.sample(before), cpu_use.sample(after)
    assert first.postgres == pytest.approx(32 / TICKS)
    assert second.postgres == pytest.approx(92 / TICKS)
    assert first.broker == pytest.approx(40 / TICKS)
    split = cpu_use.split(first, second, events=1000)
    total = 400 / TICKS / 1000 * 1e6
    assert split["total"] == pytest.approx(total, abs=0.1)
    assert split["postgres"] == pytest.approx(60 / TICKS / 1000 * 1e6, abs=0.1)
    assert split["broker"] == pytest.approx(40 / TICKS / 1000 * 1e6, abs=0.1)
    assert split["projector"] == pytest.approx(300 / TICKS / 1000 * 1e6, abs=0.2)


def test_without_local_services_their_shares_are_none_and_nothing_is_charged_to_them(
    tmp_path: Path,
) -> None:
    before = fake_proc(tmp_path / "before", (100, 0, 0, 0, 0, 0, 0, 0), [])
    after = fake_proc(tmp_path / "after", (200, 0, 0, 0, 0, 0, 0, 0), [])
    split = cpu_use.split(cpu_use.sample(before), cpu_use.sample(after), events=10)
    assert split["postgres"] is None and split["broker"] is None
    assert split["projector"] == split["total"] == pytest.approx(100 / TICKS / 10 * 1e6, abs=0.1)


def test_this_machines_busy_time_grows_with_work_done_here() -> None:
    with cpu_use.metered(1) as found:
        total = 0
        for value in range(3_000_000):
            total += value * value
    assert total > 0
    assert found["total"] is not None and found["total"] >= 0.05 * 1e6
