"""Environment variable names the services are published under, as shell ``export`` lines."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

KAFKA_BOOTSTRAP_SERVERS = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_URL = "DATABASE_URL"
TEST_DATABASE_URL = "TEST_DATABASE_URL"


def export_lines(variables: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` lines, values quoted for POSIX shells."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
