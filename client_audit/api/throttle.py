"""Throttling failed authentication per client address.

Each presented token that is refused counts against the client's address (an IPv6 address
by its /64, the block one host usually holds). An address with ``limit`` refusals within
``window_s`` is answered 429 with ``Retry-After`` until its oldest counted refusal leaves
the window; correct tokens from it are refused meanwhile too, so guessing cannot continue.
Memory is bounded: the least recently seen addresses are forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


def address_block(address: str) -> str:
    """The key a client address is counted under: itself for IPv4, its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class FailedAuthThrottle:
    def __init__(
        self,
        limit: int = 20,
        window_s: float = 60.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.capacity = capacity
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again; None when it may now."""
        key, now = address_block(address), self._clock()
        with self._lock:
            failures = self._recent(key, now)
            if failures is None or len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[0] + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count one refused token from ``address``."""
        key, now = address_block(address), self._clock()
        with self._lock:
            failures = self._recent(key, now)
            if failures is None:
                failures = self._failures[key] = deque()
            failures.append(now)
            while len(failures) > self.limit:
                failures.popleft()
            self._failures.move_to_end(key)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures
