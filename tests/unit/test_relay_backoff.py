"""Retry timing: doubling from initial_s, capped, jittered into [0.5, 1.0], and giving up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from relay.backoff import RetryPolicy, gives_up, retry_delay

POLICY = RetryPolicy(initial_s=5.0, max_interval_s=900.0, give_up_after_s=6 * 3600.0)


class Fixed(random.Random):
    """A random source whose uniform() returns one end of the range."""

    def __init__(self, end: int) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return (a, b)[self.end]


def test_delays_double_from_initial_and_are_capped() -> None:
    highest = [retry_delay(attempt, POLICY, Fixed(1)) for attempt in range(1, 11)]
    assert highest == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 900.0, 900.0]
    lowest = [retry_delay(attempt, POLICY, Fixed(0)) for attempt in (1, 2, 9)]
    assert lowest == [2.5, 5.0, 450.0]


def test_jitter_stays_within_half_and_all_of_the_capped_delay() -> None:
    rng = random.Random(7)
    for attempt in range(1, 40):
        capped = min(900.0, 5.0 * 2 ** (attempt - 1))
        delays = {retry_delay(attempt, POLICY, rng) for _ in range(50)}
        assert all(0.5 * capped <= delay <= capped for delay in delays)
        assert len(delays) > 1


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert retry_delay(10_000, POLICY, Fixed(1)) == 900.0


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [retry_delay(n, POLICY, random.Random(3)) for n in range(1, 6)]
    again = [retry_delay(n, POLICY, random.Random(3)) for n in range(1, 6)]
    assert first == again


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(0, POLICY, random.Random(0))


def test_gives_up_after_give_up_after_s() -> None:
    first = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert not gives_up(first, first, POLICY)
    assert not gives_up(first, first + timedelta(hours=6) - timedelta(seconds=1), POLICY)
    assert gives_up(first, first + timedelta(hours=6), POLICY)
    assert gives_up(first, first + timedelta(days=2), POLICY)


def test_policies_are_validated() -> None:
    assert RetryPolicy() == POLICY
    with pytest.raises(ValueError, match="initial_s must be between"):
        RetryPolicy(initial_s=0.0)
    with pytest.raises(ValueError, match="must not be below initial_s"):
        RetryPolicy(initial_s=60.0, max_interval_s=30.0)
    with pytest.raises(ValueError, match="give_up_after_s must be between"):
        RetryPolicy(give_up_after_s=30 * 86400.0)
    with pytest.raises(ValueError, match=r"give_up_after_s .* must not be below"):
        RetryPolicy(initial_s=100.0, give_up_after_s=50.0)
