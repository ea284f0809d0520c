"""Property-based fuzzing of the query API against its own OpenAPI document (schemathesis).

Valid and invalid requests are generated from /openapi.json and sent, with a valid token,
to the app over the projected hand-written history on SQLite and PostgreSQL. No response
may be a 5xx, and every response must match the document: a documented status, the
documented content type, a body that validates against the documented schema.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from client_audit.api import create_app
from projections.access.log import AccessLogWriter
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from tests.integration import test_queries as shared

pytestmark = pytest.mark.integration

# The projected hand-written history (seeded without Kafka), shared with the query-function
# tests.
history_url = shared.history_url
history_engine = shared.history_engine

TOKEN = "fuzzing-token-0123456789"
EXAMPLES = 40
"""Examples per operation and backend: about 20 s for the whole module on two cores."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


_LOADING_STORE = f"sqlite:///{Path(tempfile.mkdtemp(prefix='fuzz-')) / 'empty.db'}"
upgrade(_LOADING_STORE)
APP = create_app(create_engine_for(_LOADING_STORE), [TOKEN])
"""Loaded once for schemathesis (over an empty store, which records the document's request
in its access log); each backend's test points it at that backend's engine.

(The fixture-based lazy loader of schemathesis does not work with this pytest version.)
"""

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
def test_no_5xx_and_every_response_matches_the_document(
    case: Any, history_engine: sa.Engine
) -> None:
    APP.state.engine = history_engine
    APP.state.access_log = AccessLogWriter(history_engine)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
