"""Serving the API: uvicorn with bounds on connections, idle time, request heads and time.

- **Connections** are capped (``limit_concurrency``) below the process's open-file limit, so
  accept never fails for want of descriptors; past the cap a connection is answered 503.
- **Idle connections** close: a kept-alive connection after ``keep_alive_s`` without a new
  request, and any connection that has not sent a complete request head (request line and
  headers) ``header_timeout_s`` after it opened or after its last response — a client that
  opens sockets and sends nothing, or sends a head one byte at a time, holds no connection
  for long.
- **Requests** get ``request_timeout_s`` to start their response
  (:class:`~client_audit.api.deadline.RequestDeadline`); database statements are bounded
  by the same time.
- **TLS**, when given a certificate and key.
- uvicorn's access log is off: :class:`~client_audit.api.metrics.RequestRecorder` writes
  one line per request with secrets redacted.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

DESCRIPTOR_RESERVE = 64
"""Open files kept for everything but client connections (database, logs, listener)."""


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 256
    keep_alive_s: float = 5.0
    header_timeout_s: float = 10.0
    request_timeout_s: float = 30.0


@dataclass(frozen=True)
class Tls:
    certificate: Path
    key: Path


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered to what the open-file limit leaves for client connections."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - DESCRIPTOR_RESERVE))


def guarded_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing connections that do not complete a request head in
    ``header_timeout_s`` (after opening, and after each response)."""

    class HeadDeadlineProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def _arm_head_deadline(self) -> None:
            self.loop.call_later(header_timeout_s, self._head_deadline_passed, self.cycle)

        def _head_deadline_passed(self, cycle_when_armed: Any) -> None:
            if self.transport.is_closing():
                return
            idle = self.cycle is cycle_when_armed and (
                self.cycle is None or self.cycle.response_complete
            )
            if idle:
                self.transport.close()

    return HeadDeadlineProtocol


def server_config(
    app: Any, host: str, port: int, limits: ServerLimits, tls: Tls | None = None
) -> uvicorn.Config:
    """The uvicorn configuration with every bound of this module."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits.header_timeout_s),
        limit_concurrency=connection_cap(limits.max_connections),
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        backlog=128,
        access_log=False,
        log_config=None,
        server_header=False,
        ssl_certfile=None if tls is None else str(tls.certificate),
        ssl_keyfile=None if tls is None else str(tls.key),
    )
