"""Console sessions, kept in the server's memory: an opaque random id in the cookie.

The cookie holds 32 random bytes (base64url) and nothing else; the store keys sessions by
the id's SHA-256, so even the store holds no usable cookie value. A session remembers
which configured token opened it (never the token) and a per-session form token for the
sign-out form. Sessions end after ``idle_s`` without a request, after ``lifetime_s`` in
any case, at sign-out, and when the server stops. Memory is bounded: past ``capacity``
the least recently used session is dropped.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ID_BYTES = 32


@dataclass
class Session:
    """One signed-in browser: its token's index, its form token and its times."""

    token_index: int
    form_token: str
    opened: float
    seen: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    def __init__(
        self,
        idle_s: float = 30 * 60,
        lifetime_s: float = 8 * 3600,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self.capacity = capacity
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, token_index: int) -> tuple[str, Session]:
        """A new session for the token at ``token_index``: its cookie value, and it."""
        session_id = secrets.token_urlsafe(ID_BYTES)
        now = self._clock()
        session = Session(token_index, secrets.token_urlsafe(ID_BYTES), now, now)
        with self._lock:
            self._sessions[_key(session_id)] = session
            while len(self._sessions) > self.capacity:
                self._sessions.popitem(last=False)
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value (its idle time restarts); None otherwise."""
        if not session_id or len(session_id) > 2 * ID_BYTES:
            return None
        key, now = _key(session_id), self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.opened > self.lifetime_s:
                del self._sessions[key]
                return None
            session.seen = now
            self._sessions.move_to_end(key)
            return session

    def close(self, session_id: str | None) -> None:
        """End the session of a cookie value (nothing if there is none)."""
        if session_id:
            with self._lock:
                self._sessions.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)
