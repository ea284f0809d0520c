"""The HTTP query API: every question, pages walked by cursor, precise 4xx, never a 5xx
for bad input, a 503 for an unreachable database, and ``client-audit serve`` for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from client_audit.api import create_app
from projections.db.engine import create_engine_for
from projections.queries import AuditCursor, AuditEntry, CredentialCursor, CredentialRecord
from tests.integration import test_queries as shared
from tests.integration.test_queries import (
    ALL,
    ANOMALY_CASES,
    CREDENTIAL_CASES,
    DENIAL_REASONS,
    DENIED_CASES,
    EXPECTED_FLAGS,
    HISTORY_OF_C,
    TRAIL_CASES,
    USES_CASES,
    C,
    E,
    names,
)

pytestmark = pytest.mark.integration

# The projected hand-written history (seeded without Kafka), shared with the query-function
# tests.
history_url = shared.history_url
history_engine = shared.history_engine

TOKEN = "token-for-tests-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(history_engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(history_engine, [TOKEN]), raise_server_exceptions=False) as client:
        yield client


def params(given: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in given.items()
    }


def walk(
    client: TestClient, path: str, given: dict[str, Any], key: str, limit: int = 2
) -> list[Any]:
    """Every row of every page, following nextCursor."""
    rows: list[Any] = []
    query = {**params(given), "limit": limit}
    for _page in range(100):
        response = client.get(path, params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= limit
        rows.extend(body[key])
        if body["nextCursor"] is None:
            return rows
        query["cursor"] = body["nextCursor"]
    raise AssertionError("the pages did not end")


def entry_names(rows: list[Any]) -> list[str]:
    return names([AuditEntry.model_validate(row) for row in rows])


@pytest.mark.parametrize(("given", "expected"), TRAIL_CASES)
def test_trail(client: TestClient, given: dict[str, Any], expected: list[str]) -> None:
    assert entry_names(walk(client, "/v1/trail", given, "entries")) == expected


@pytest.mark.parametrize(("given", "expected"), USES_CASES)
def test_uses(client: TestClient, given: dict[str, Any], expected: list[str]) -> None:
    assert entry_names(walk(client, "/v1/uses", given, "entries")) == expected


@pytest.mark.parametrize(("given", "expected"), DENIED_CASES)
def test_denied(client: TestClient, given: dict[str, Any], expected: list[str]) -> None:
    rows = walk(client, "/v1/uses/denied", given, "entries")
    assert entry_names(rows) == expected
    assert [row["denialReason"] for row in rows] == [DENIAL_REASONS[name] for name in expected]


@pytest.mark.parametrize(("given", "expected"), CREDENTIAL_CASES)
def test_credentials(client: TestClient, given: dict[str, Any], expected: list[str]) -> None:
    rows = walk(client, "/v1/credentials", given, "credentials")
    assert [CredentialRecord.model_validate(row).credential_id for row in rows] == expected


@pytest.mark.parametrize(("given", "expected"), ANOMALY_CASES)
def test_anomalies(client: TestClient, given: dict[str, Any], expected: list[str]) -> None:
    rows = walk(client, "/v1/anomalies", given, "entries")
    assert entry_names(rows) == expected
    assert [row["anomalies"] for row in rows] == [EXPECTED_FLAGS[name] for name in expected]


def test_one_credential_state_and_history(client: TestClient) -> None:
    state = client.get(f"/v1/credentials/{C}", headers=AUTH)
    assert state.status_code == 200
    assert state.json()["status"] == "expired" and state.json()["lastSequence"] == 6
    history = walk(client, f"/v1/credentials/{C}/history", {}, "entries")
    assert entry_names(history) == HISTORY_OF_C
    window = walk(client, f"/v1/credentials/{C}/history",
                  {"from": "2026-03-03T13:00:00Z", "eventType": ["USED"]}, "entries")
    assert entry_names(window) == ["C4", "C6"]


def test_a_sql_looking_id_is_just_an_id(client: TestClient) -> None:
    response = client.get(f"/v1/credentials/{quote(E, safe='')}", headers=AUTH)
    assert response.status_code == 200 and response.json()["userId"] == "mallory"
    missing = client.get("/v1/credentials/" + quote("' OR 1=1 --", safe=""), headers=AUTH)
    assert missing.status_code == 404


def test_an_unknown_credential_is_404(client: TestClient) -> None:
    for path in ("/v1/credentials/cred-unknown", "/v1/credentials/cred-unknown/history"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_default_page_is_100_and_the_whole_log_fits(client: TestClient) -> None:
    body = client.get("/v1/trail", headers=AUTH).json()
    assert len(body["entries"]) == len(ALL) and body["nextCursor"] is None


BAD_QUERIES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/trail", {"from": "2026-03-03T10:00:00"}, "from"),
    ("/v1/trail", {"from": "2026-03-03T10:00:00 01:00"}, "from"),
    ("/v1/trail", {"from": "2026-03-03T12:00:00Z", "to": "2026-03-03T10:00:00Z"}, "to"),
    ("/v1/trail", {"from": "0001-01-01T00:00:00+14:00"}, "from"),
    ("/v1/trail", {"to": "not a time"}, "to"),
    ("/v1/trail", {"eventType": "EXPLODED"}, "eventType"),
    ("/v1/trail", {"limit": 0}, "limit"),
    ("/v1/trail", {"limit": -5}, "limit"),
    ("/v1/trail", {"limit": 1001}, "limit"),
    ("/v1/trail", {"limit": "ten"}, "limit"),
    ("/v1/trail", {"limit": 10**30}, "limit"),
    ("/v1/trail", {"cursor": "garbage"}, "cursor"),
    ("/v1/trail", {"cursor": "eyJ9"}, "cursor"),
    ("/v1/trail", {"cursor": CredentialCursor(after="cred-a").encode()}, "cursor"),
    ("/v1/trail", {"cursor": AuditCursor.model_construct(after=9, horizon=3).encode()}, "cursor"),
    ("/v1/trail", {"cursor": AuditCursor.model_construct(after=2**70, horizon=2**71).encode()},
     "cursor"),
    ("/v1/trail", {"credentialId": "a\x00b"}, "credentialId"),
    ("/v1/trail", {"userId": "   "}, "userId"),
    ("/v1/uses", {"network": "10.0.0.1/8"}, "network"),
    ("/v1/uses", {"network": "300.1.2.3"}, "network"),
    ("/v1/uses", {"network": "2001:db8::/129"}, "network"),
    ("/v1/uses", {"network": "' OR 1=1 --"}, "network"),
    ("/v1/uses", {"network": "fe80::%eth0/10"}, "network"),
    ("/v1/uses", {"network": "fe80::1%eth0"}, "network"),
    ("/v1/uses", {"outcome": "MAYBE"}, "outcome"),
    ("/v1/uses", {"outcome": "ALLOWED", "reason": "EXPIRED"}, ""),
    ("/v1/uses/denied", {"reason": "BORED"}, "reason"),
    ("/v1/credentials", {"status": "gone"}, "status"),
    ("/v1/credentials", {"expiringBefore": "2026-03-03T10:00:00"}, "expiringBefore"),
    ("/v1/credentials", {"cursor": AuditCursor(after=1, horizon=2).encode()}, "cursor"),
    ("/v1/anomalies", {"kind": "SPOOKY"}, "kind"),
]


@pytest.mark.parametrize(("path", "given", "parameter"), BAD_QUERIES)
def test_bad_input_is_a_precise_422(
    client: TestClient, path: str, given: dict[str, Any], parameter: str
) -> None:
    response = client.get(path, params=given, headers=AUTH)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_query"
    assert parameter in [problem["parameter"] for problem in body["problems"]], body
    assert "Traceback" not in response.text


def test_sql_looking_filters_are_plain_strings(client: TestClient) -> None:
    for given in ({"credentialId": "' OR '1'='1"}, {"userId": "alice'; DROP TABLE audit_log; --"},
                  {"actorId": "\" OR \"\"=\""}):
        body = client.get("/v1/trail", params=given, headers=AUTH).json()
        assert body == {"entries": [], "nextCursor": None}
    assert len(client.get("/v1/trail", headers=AUTH).json()["entries"]) == len(ALL)


def test_plus_in_a_query_string_gets_a_hint(client: TestClient) -> None:
    response = client.get("/v1/trail?from=2026-03-03T10:00:00+01:00", headers=AUTH)
    assert response.status_code == 422
    assert "%2B" in response.json()["message"]
    encoded = client.get("/v1/trail?from=2026-03-03T10:00:00%2B01:00", headers=AUTH)
    assert encoded.status_code == 200


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert client.get("/v1/nothing", headers=AUTH).status_code == 404
    assert client.post("/v1/trail", headers=AUTH).status_code == 405
    assert client.delete(f"/v1/credentials/{C}", headers=AUTH).status_code == 405


def test_health_and_metrics_are_open(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    client.get("/v1/trail", headers=AUTH)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'client_audit_api_requests_total{method="GET",route="/v1/trail",status="200"}' in (
        metrics.text
    )
    assert "client_audit_api_request_seconds_bucket" in metrics.text


def test_an_unreachable_database_is_503_not_500() -> None:
    engine = create_engine_for(
        "postgresql+psycopg://nobody:nothing@127.0.0.1:9/none?connect_timeout=2"
    )
    with TestClient(create_app(engine, [TOKEN]), raise_server_exceptions=False) as client:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        query = client.get("/v1/trail", headers=AUTH)
        # the access log lives in the same, unreachable store: unrecorded, unanswered
        assert query.status_code == 503 and query.json()["error"] == "access_log_unavailable"
        assert "nothing" not in query.text
    engine.dispose()


def test_the_api_cannot_write(client: TestClient, history_engine: sa.Engine) -> None:
    from client_audit.api.database import read_only_connection

    class _Request:
        class app:  # noqa: N801 - mimics request.app
            class state:  # noqa: N801 - mimics request.app.state
                engine = history_engine
                statement_timeout_s = 5.0

    connections = read_only_connection(_Request())  # type: ignore[arg-type]
    assert isinstance(connections, Generator)
    connection = next(connections)
    with pytest.raises(sa.exc.DBAPIError):
        connection.execute(sa.text("DELETE FROM consumer_positions"))
    connection.rollback()
    connections.close()
    with history_engine.connect() as check:
        assert check.scalar(sa.text("SELECT count(*) FROM consumer_positions")) == 1


# ---------------------------------------------------------------- client-audit serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(url: str, port: int, tokens: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLIENT_AUDIT_API_TOKENS": tokens, "DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "client_audit.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )


def test_serve_answers_over_http(history_url: str) -> None:
    port = _free_port()
    server = _serve(history_url, port, f'["{TOKEN}", "another-token"]')
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        assert httpx.get(f"{base}/v1/trail").status_code == 401
        trail = httpx.get(f"{base}/v1/trail", params={"credentialId": C}, headers=AUTH)
        assert entry_names(trail.json()["entries"]) == HISTORY_OF_C
        other = httpx.get(f"{base}/v1/credentials/{C}",
                          headers={"Authorization": "Bearer another-token"})
        assert other.status_code == 200
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == (
            "client-audit query API"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)


def test_serve_refuses_to_start_without_tokens(history_url: str) -> None:
    server = _serve(history_url, _free_port(), "[]")
    _out, err = server.communicate(timeout=30)
    assert server.returncode == 2
    assert b"CLIENT_AUDIT_API_TOKENS" in err and b"Traceback" not in err
