"""Garbage-collector settings for the projector's batch loop.

Decoding and folding a batch of 5,000 events allocates hundreds of thousands of short-lived
objects, almost none of them in reference cycles, and keeps a batch's events alive until
the batch is stored. Every automatic collection in the middle of a batch therefore walks
the whole batch alive, only to promote it; with CPython's default thresholds (700, 10, 10)
that is hundreds of collections per batch (a third of the fold's time in measurements),
and still a tenth of a bulk replay's time with a young threshold of 50,000.

So while the loop runs, objects that existed before it are frozen out of collection, the
young threshold is raised above what a batch allocates (a pathological batch is still
collected), and the loop collects once after every batch, when the batch is gone and only
what outlives it is walked (:meth:`BatchCollector.after_batch`), every
:data:`FULL_EVERY`-th time over the whole heap, and at least every :data:`IDLE_SECONDS`
while it waits (other threads allocate too). The previous settings come back afterwards.
Reference counting still frees every acyclic object at once, so memory stays flat.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (1_000_000, 20, 20)
"""Allocations before a young collection inside a batch (a batch of 5,000 events makes
about 300,000), and young (then middle) collections before older."""

FULL_EVERY = 100
"""Collections after batches between two collections of the whole (unfrozen) heap."""

IDLE_SECONDS = 5.0
"""Longest time the loop goes without a collection while no batch arrives."""


class BatchCollector:
    """Collections at the loop's pace: after each batch, and now and then when idle."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self.collections = 0

    def after_batch(self) -> None:
        """Collect what the batch left (call once the batch's objects are released)."""
        self._collect()

    def idle(self) -> None:
        """Collect if no collection ran for :data:`IDLE_SECONDS`."""
        if self._clock() - self._last >= IDLE_SECONDS:
            self._collect()

    def _collect(self) -> None:
        self.collections += 1
        gc.collect(2 if self.collections % FULL_EVERY == 0 else 1)
        self._last = self._clock()


@contextmanager
def batch_collector() -> Iterator[BatchCollector]:
    """Collect garbage at the loop's pace while the block runs; restore the settings after."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield BatchCollector()
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
