"""Worker processes that notice when the process that started them is gone.

A parent killed outright (SIGKILL, the OOM killer) can neither stop its workers nor collect
what they do; each worker is then handed to another parent, which is how it tells.
"""

from __future__ import annotations

import os
import time
from typing import Protocol

ORPHAN_CHECK_S = 1.0
"""How often a worker checks that the process which started it is still there."""


class Waitable(Protocol):
    """A stop request (``threading.Event``, ``multiprocessing.Event``)."""

    def wait(self, timeout: float | None = None) -> bool: ...


def parent_gone(parent: int, stop: Waitable | None = None) -> bool:
    """Block until ``parent`` is no longer this process's parent (True) or ``stop`` is set
    (False); checked at once, then every :data:`ORPHAN_CHECK_S`."""
    while os.getppid() == parent:
        if stop is None:
            time.sleep(ORPHAN_CHECK_S)
        elif stop.wait(ORPHAN_CHECK_S):
            return False
    return True
