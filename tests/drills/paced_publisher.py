"""An ``EventPublisher`` fed at a steady rate from a thread, like a live upstream."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from producer.publisher import EventPublisher
from schemas.models import LifecycleEvent

log = logging.getLogger(__name__)


class PacedPublisher:
    """Publishes ``events`` in confirmed chunks at about ``rate`` events per second."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        events: Sequence[LifecycleEvent],
        rate: float,
        chunk: int = 500,
        timeout_s: float = 120.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.events = events
        self.rate = rate
        self.chunk = chunk
        self.timeout_s = timeout_s
        self.confirmed = 0
        self.error: BaseException | None = None
        self.confirmations: list[tuple[float, int]] = []
        """(monotonic instant, events confirmed so far) after every chunk."""
        self._thread = threading.Thread(target=self._run, name="paced-publisher", daemon=True)

    def start(self) -> PacedPublisher:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout_s: float) -> int:
        """Wait for the end; return the events confirmed, or raise what the publisher raised."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the publisher did not finish within {timeout_s:.0f} s")
        if self.error is not None:
            raise AssertionError(f"the publisher failed: {self.error!r}") from self.error
        return self.confirmed

    def _run(self) -> None:
        started = time.monotonic()
        try:
            with EventPublisher(self.bootstrap, self.topic, timeout_s=self.timeout_s) as publisher:
                for first in range(0, len(self.events), self.chunk):
                    batch = self.events[first : first + self.chunk]
                    self.confirmed += publisher.publish_many(batch)
                    self.confirmations.append((time.monotonic(), self.confirmed))
                    ahead = started + self.confirmed / self.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
        except BaseException as exc:  # handed to the test thread by join()
            self.error = exc
        log.info(
            "publisher confirmed %d events in %.1f s", self.confirmed, time.monotonic() - started
        )
