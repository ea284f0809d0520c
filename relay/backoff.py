"""When to retry a failed delivery: exponential backoff with jitter, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

INITIAL_S_RANGE = (0.1, 3600.0)
"""Seconds allowed for the first wait."""

MAX_INTERVAL_S_RANGE = (1.0, 86400.0)
"""Seconds allowed for the longest wait."""

GIVE_UP_AFTER_S_RANGE = (1.0, 7 * 86400.0)
"""Seconds allowed between the first attempt and giving up."""

_MAX_EXPONENT = 62
"""Doublings beyond this are capped anyway; stops ``2.0 ** n`` from overflowing."""


def _check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g} (got {value:g})")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts, and how long to keep trying."""

    initial_s: float = 5.0
    max_interval_s: float = 900.0
    give_up_after_s: float = 6 * 3600.0

    def __post_init__(self) -> None:
        _check_range("initial_s", self.initial_s, INITIAL_S_RANGE)
        _check_range("max_interval_s", self.max_interval_s, MAX_INTERVAL_S_RANGE)
        _check_range("give_up_after_s", self.give_up_after_s, GIVE_UP_AFTER_S_RANGE)
        if self.max_interval_s < self.initial_s:
            raise ValueError(
                f"max_interval_s ({self.max_interval_s:g}) must not be below "
                f"initial_s ({self.initial_s:g})"
            )
        if self.give_up_after_s < self.initial_s:
            raise ValueError(
                f"give_up_after_s ({self.give_up_after_s:g}) must not be below "
                f"initial_s ({self.initial_s:g})"
            )


def retry_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first attempt).

    ``initial_s`` doubled for each earlier failure, capped at ``max_interval_s``, then
    scaled by a random factor in [0.5, 1.0] so that deliveries failing together do not
    come back together.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1 (got {attempt})")
    exponent = min(attempt - 1, _MAX_EXPONENT)
    capped = min(policy.max_interval_s, policy.initial_s * 2.0**exponent)
    return capped * rng.uniform(0.5, 1.0)


def gives_up(first_attempt_at: datetime, now: datetime, policy: RetryPolicy) -> bool:
    """Whether a delivery first attempted at ``first_attempt_at`` is not retried ``now``."""
    return now - first_attempt_at >= timedelta(seconds=policy.give_up_after_s)
