"""Bearer-token authentication of the query API: what is refused, what is accepted, what
is open. Runs on an empty, migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.api.auth import TokenVerifier
from client_audit.api.throttle import FailedAuthThrottle
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade

TOKENS = ["first-token-abc123", "second.token_~+/xyz=="]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("auth") / "audit.db"
    upgrade(f"sqlite:///{path}")
    engine = create_engine_for(f"sqlite:///{path}")
    unthrottled = FailedAuthThrottle(limit=10**9)  # throttling: tests/unit/test_api_throttle.py
    app = create_app(engine, TOKENS, throttle=unthrottled)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


REFUSED = [
    (None, 'Bearer realm="client-audit"'),
    ("", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Bearer", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Bearer ", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Basic Zmlyc3QtdG9rZW4tYWJjMTIzOg==", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Token first-token-abc123", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Bearer first-token-abc123 extra", 'Bearer realm="client-audit", error="invalid_request"'),
    ("Bearer first-token-abc12", 'Bearer realm="client-audit", error="invalid_token"'),
    ("Bearer first-token-abc1234", 'Bearer realm="client-audit", error="invalid_token"'),
    ("Bearer FIRST-TOKEN-ABC123", 'Bearer realm="client-audit", error="invalid_token"'),
    ("Bearer ' OR '1'='1", 'Bearer realm="client-audit", error="invalid_request"'),
]


@pytest.mark.parametrize(("header", "challenge"), REFUSED)
@pytest.mark.parametrize("path", ["/v1/trail", "/v1/credentials", "/v1/credentials/cred-1"])
def test_missing_malformed_and_wrong_tokens_are_401(
    client: TestClient, path: str, header: str | None, challenge: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["error"] == "unauthorized"


def test_a_non_ascii_token_is_refused(client: TestClient) -> None:
    response = client.get("/v1/trail", headers={"Authorization": "Bearer t\u00f6ken".encode()})
    assert response.status_code == 401


@pytest.mark.parametrize("token", TOKENS)
def test_every_configured_token_is_accepted(client: TestClient, token: str) -> None:
    response = client.get("/v1/trail", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"entries": [], "nextCursor": None}


def test_the_scheme_name_ignores_case(client: TestClient) -> None:
    response = client.get("/v1/credentials", headers={"Authorization": f"bearer {TOKENS[0]}"})
    assert response.status_code == 200


def test_authentication_comes_before_validation(client: TestClient) -> None:
    response = client.get("/v1/trail", params={"limit": "-1", "from": "naive"})
    assert response.status_code == 401


def test_health_metrics_and_the_openapi_document_are_open(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 404


def test_without_tokens_every_query_is_refused(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'audit.db'}")
    engine = create_engine_for(f"sqlite:///{tmp_path / 'audit.db'}")
    with TestClient(create_app(engine, [])) as client:
        assert client.get("/v1/trail", headers={"Authorization": "Bearer x"}).status_code == 401
        assert client.get("/healthz").status_code == 200
    engine.dispose()


def test_blank_tokens_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        TokenVerifier(["good", "  "])


def test_verifier_accepts_exactly_the_configured_tokens() -> None:
    verifier = TokenVerifier(TOKENS)
    assert all(verifier.accepts(token) for token in TOKENS)
    assert not verifier.accepts(TOKENS[0] + TOKENS[1])
    assert not verifier.accepts("")
    assert not TokenVerifier([]).accepts("anything")
