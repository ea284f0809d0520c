"""Environment variable names the services are published under, as shell ``export`` lines."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

KAFKA_BOOTSTRAP_SERVERS = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_URL = "DATABASE_URL"
TEST_DATABASE_URL = "TEST_DATABASE_URL"
READER_DATABASE_URL = "READER_DATABASE_URL"
TEST_READER_DATABASE_URL = "TEST_READER_DATABASE_URL"
ACCESS_LOG_DATABASE_URL = "ACCESS_LOG_DATABASE_URL"
TEST_ACCESS_LOG_DATABASE_URL = "TEST_ACCESS_LOG_DATABASE_URL"
"""The read-only role's and the access-log writer's URLs. (Not the names client-audit reads:
``serve`` takes them as DATABASE_URL and CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL.)"""
KAFKA_SECURE_BOOTSTRAP_SERVERS = "KAFKA_SECURE_BOOTSTRAP_SERVERS"


def export_lines(variables: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` lines, values quoted for POSIX shells."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
