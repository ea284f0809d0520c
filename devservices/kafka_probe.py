"""Whether a broker answers a real metadata request."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


def answers(
    bootstrap: str, timeout_s: float = 5.0, client_options: Mapping[str, Any] | None = None
) -> bool:
    """True if ``host:port`` accepts a connection and returns the cluster's topic list
    (connecting with ``client_options``: the SASL credentials of a secure broker)."""
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=min(timeout_s, 2.0)).close()
    except (OSError, ValueError):
        return False
    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="devservices-probe",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            reconnect_backoff_max_ms=1000,
            **(client_options or {}),
        )
    except (KafkaError, OSError) as error:
        log.debug("kafka bootstrap failed bootstrap=%s error=%s", bootstrap, error)
        return False
    try:
        admin.list_topics()
    except (KafkaError, OSError) as error:
        log.debug("kafka metadata request failed bootstrap=%s error=%s", bootstrap, error)
        return False
    finally:
        admin.close()
    return True
