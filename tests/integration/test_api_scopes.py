"""Every route of the API, generated from ``app.routes``: called with exactly its scopes,
with each of them missing, without a token, with a revoked and with an expired token; and
every one of those requests found in the access log, chained, and the chain verified.

A route added later is covered without a change here; one that declares no scope (and is
not open) fails ``test_every_route_declares_a_scope_or_is_open``, and ``create_app``
refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.api.scopes import (
    OPEN_ROUTES,
    DeclaredRoute,
    check_declared,
    requires,
    routes_of,
    undeclared_routes,
)
from client_audit.api.throttle import FailedAuthThrottle
from projections.access.tokens import issue_token, revoke_token
from projections.chain.access_verify import verify_access_chain
from projections.db.engine import create_engine_for, write_transaction
from projections.db.tables import access_log
from projections.model.access import ALL_SCOPES, Scope
from tests.builders_projection import History
from tests.seeding import seed, topic_name

pytestmark = pytest.mark.integration

CREDENTIAL = "cred-scoped-1"

APP = create_app(create_engine_for("sqlite://"), [])
"""Only for enumerating the routes at collection time; the tests build their own."""


def scoped_routes() -> list[DeclaredRoute]:
    return [route for route in routes_of(APP) if route.path not in OPEN_ROUTES]


def url_of(route: DeclaredRoute) -> str:
    return route.path_format.format(**{name: CREDENTIAL for name in route.path_parameters})


@dataclass
class Served:
    client: TestClient
    engine: sa.Engine
    tokens: dict[str, str]

    def issue(self, name: str, scopes: frozenset[Scope], *, now: datetime | None = None,
              expires_at: datetime | None = None) -> str:
        with write_transaction(self.engine) as connection:
            issued = issue_token(connection, name, scopes, now or datetime.now(UTC),
                                 expires_at)
        self.tokens[name] = issued.token
        return issued.token

    def last_entry(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(access_log).order_by(access_log.c.position.desc()).limit(1)
            ).mappings().one()
        return dict(row)


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    history = History(CREDENTIAL, user_id="alice")
    seed(database_url, [history.created(scoped_roles=("admin",)), history.used("10.0.0.1")],
         topic=topic_name("scopes"))
    engine = create_engine_for(database_url)
    app = create_app(engine, ["env-token-for-scope-tests"],
                     throttle=FailedAuthThrottle(limit=10**9))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(client, engine, {})
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows_in(body: dict[str, Any]) -> int:
    if "entries" in body:
        return len(body["entries"])
    if "credentials" in body:
        return len(body["credentials"])
    if "auditLog" in body:
        return len(body["auditLog"]) + (body["accessLog"] is not None)
    return 1


def test_every_route_declares_a_scope_or_is_open() -> None:
    assert undeclared_routes(APP) == []
    paths = {route.path for route in routes_of(APP)}
    assert paths >= OPEN_ROUTES
    assert {route.path for route in scoped_routes()} >= {
        "/v1/trail", "/v1/uses", "/v1/uses/denied", "/v1/anomalies", "/v1/credentials",
        "/v1/credentials/{credentialId:path}", "/v1/credentials/{credentialId:path}/history",
        "/v1/access", "/v1/integrity/heads",
    }


def test_a_route_without_a_declared_scope_is_refused() -> None:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(APIRouter(dependencies=[requires(Scope.ADMIN)]))
    app.add_api_route("/v1/forgotten", lambda: {}, methods=["GET"])
    assert undeclared_routes(app) == ["/v1/forgotten"]
    with pytest.raises(RuntimeError, match="/v1/forgotten"):
        check_declared(app)


def test_each_scope_guards_the_routes_it_should() -> None:
    scopes = {route.path: route.scopes for route in scoped_routes()}
    assert scopes["/v1/trail"] == {Scope.READ_AUDIT_LOG}
    assert scopes["/v1/credentials"] == {Scope.READ_CREDENTIALS}
    assert scopes["/v1/credentials/{credentialId:path}/history"] == {
        Scope.READ_CREDENTIALS, Scope.READ_AUDIT_LOG}
    assert scopes["/v1/integrity/heads"] == {Scope.READ_INTEGRITY}
    assert scopes["/v1/access"] == {Scope.ADMIN}


def test_the_openapi_document_names_each_routes_scopes() -> None:
    document = APP.openapi()
    for route in scoped_routes():
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            assert operation["x-required-scopes"] == sorted(route.scopes)
            assert "Needs the token scope" in operation["description"]
            assert "403" in operation["responses"]


@pytest.mark.parametrize("route", scoped_routes(), ids=lambda route: route.path)
def test_route_with_and_without_its_scopes(served: Served, route: DeclaredRoute) -> None:
    needed = route.scopes
    url, name = url_of(route), route.path.strip("/").replace("/", "-").replace("{", "")
    name = "".join(char for char in name if char.isalnum() or char in "-")[:40]
    requests = 0

    exact = served.issue(f"{name}-exact", needed)
    answer = served.client.get(url, headers=bearer(exact))
    requests += 1
    assert answer.status_code == 200, answer.text
    entry = served.last_entry()
    assert (entry["token_name"], entry["route"], entry["status"]) == (
        f"{name}-exact", route.path, 200)
    assert entry["rows_returned"] == rows_in(answer.json())
    assert entry["client_address"] == "testclient"
    for param in route.path_parameters:
        assert entry["parameters"][param] == CREDENTIAL

    for missing in sorted(needed):
        lacking = served.issue(f"{name}-no-{missing.value.replace(':', '-')}",
                               ALL_SCOPES - {missing})
        refused = served.client.get(url, headers=bearer(lacking))
        requests += 1
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
        assert f"needs the scope {missing.value}" in refused.json()["message"]
        assert f'scope="{missing.value}"' in refused.headers["www-authenticate"]
        assert "insufficient_scope" in refused.headers["www-authenticate"]
        entry = served.last_entry()
        assert (entry["status"], entry["rows_returned"]) == (403, None)
        assert entry["token_name"] == f"{name}-no-{missing.value.replace(':', '-')}"

    anonymous = served.client.get(url)
    requests += 1
    assert anonymous.status_code == 401
    assert (served.last_entry()["token_name"], served.last_entry()["status"]) == (None, 401)

    revoked = served.issue(f"{name}-revoked", ALL_SCOPES)
    with write_transaction(served.engine) as connection:
        revoke_token(connection, f"{name}-revoked", datetime.now(UTC))
    answer = served.client.get(url, headers=bearer(revoked))
    requests += 1
    assert answer.status_code == 401 and "was revoked" in answer.json()["message"]
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert served.last_entry()["token_name"] == f"{name}-revoked"

    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    expired = served.issue(f"{name}-expired", ALL_SCOPES, now=long_ago,
                           expires_at=long_ago + timedelta(days=1))
    answer = served.client.get(url, headers=bearer(expired))
    requests += 1
    assert answer.status_code == 401
    assert "expired at 2020-01-02T00:00:00Z" in answer.json()["message"]
    assert served.last_entry()["status"] == 401

    unknown = served.client.get(url, headers=bearer("cat_" + "x" * 43))
    requests += 1
    assert unknown.status_code == 401
    assert served.last_entry()["token_name"] is None

    with served.engine.connect() as connection:
        verdict = verify_access_chain(connection)
    assert verdict.first_break is None
    assert verdict.rows == requests


def test_environment_tokens_hold_every_scope_and_are_named(served: Served) -> None:
    for route in scoped_routes():
        answer = served.client.get(url_of(route), headers=bearer("env-token-for-scope-tests"))
        assert answer.status_code == 200, (route.path, answer.text)
        assert served.last_entry()["token_name"] == "env:1"


def test_open_routes_need_no_token_and_the_probes_are_not_recorded(served: Served) -> None:
    for path in sorted(OPEN_ROUTES):
        assert served.client.get(path).status_code == 200, path
    with served.engine.connect() as connection:
        recorded = connection.execute(sa.select(access_log.c.route)).scalars().all()
    assert recorded == ["/openapi.json"]


def test_an_unmatched_path_is_recorded_with_the_path_escaped(served: Served) -> None:
    answer = served.client.get("/v1/nothing-here/%1b%5b2J", headers=bearer("x"))
    assert answer.status_code == 404
    entry = served.last_entry()
    assert entry["route"] == "<unmatched>"
    assert entry["parameters"] == {"path": "/v1/nothing-here/\\x1b[2J"}


def test_query_parameters_are_recorded_redacted_escaped_and_bounded(served: Served) -> None:
    params: list[tuple[str, str]] = [
        ("userId", "alice"), ("eventType", "CREATED"), ("eventType", "USED"),
        ("access_token", "leaked-secret"), ("note", "\x00\u202e" + "y" * 600),
    ]
    params += [(f"p{n}", "v") for n in range(40)]
    served.client.get("/v1/trail", params=params, headers=bearer("env-token-for-scope-tests"))
    recorded = served.last_entry()["parameters"]
    assert recorded["userId"] == "alice"
    assert recorded["eventType"] == ["CREATED", "USED"]
    assert recorded["access_token"] == "[redacted]"
    assert recorded["note"].startswith("\\x00\\u202eyyy") and recorded["note"].endswith("…")
    assert len(recorded["note"]) == 256
    assert recorded["…"] == "12 more parameters not recorded"
    assert "leaked-secret" not in str(recorded)


def test_a_request_is_not_answered_when_the_access_log_cannot_be_written(
    served: Served,
) -> None:
    with served.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM access_chain_head"))
    answer = served.client.get("/v1/credentials", headers=bearer("env-token-for-scope-tests"))
    assert answer.status_code == 503
    assert answer.json()["error"] == "access_log_unavailable"
    assert CREDENTIAL not in answer.text
