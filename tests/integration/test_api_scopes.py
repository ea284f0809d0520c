"""Every route of the API and the console, generated from ``app.routes``: called with
exactly its scopes, with each of them missing, without a token, with a revoked and with an
expired token; and every one of those requests found in the access log, chained, and the
chain verified.

API routes are called with bearer tokens; console pages through the console's sessions, as
a browser does: signed in with the token, and the session ending once the token is revoked
or expires. A route added later is covered without a change here (a console page needs
only the rows it shows in :data:`CONSOLE_ROWS`); one that declares no scope (and is not
open) fails ``test_every_route_declares_a_scope_or_is_open``, and ``create_app`` and
``install_console`` refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from httpx import Response

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
from client_audit.console import install_console
from client_audit.console.auth import SESSION_COOKIE, is_console_path
from projections.access.tokens import issue_token, revoke_token
from projections.chain.access_verify import verify_access_chain
from projections.db.engine import create_engine_for, write_transaction
from projections.db.tables import access_log, api_tokens
from projections.model.access import ALL_SCOPES, Scope
from projections.write.saved_searches import save_search
from tests.builders_projection import History
from tests.seeding import seed, topic_name

pytestmark = pytest.mark.integration

CREDENTIAL = "cred-scoped-1"

APP = create_app(create_engine_for("sqlite://"), [])
install_console(APP)
"""Only for enumerating the routes at collection time; the tests build their own."""

PATH_VALUES = {
    "credentialId": CREDENTIAL,
    "credential_id": CREDENTIAL,
    "name": "clientaudit.events.CredentialUsed",
}
"""The value each path parameter is called with."""

CONSOLE_ROWS: dict[str, int | None] = {
    "/console/search": 2,
    "/console/search/export": None,
    "/console/credentials/{credential_id:path}": 3,
    "/console/roles": 0,
    "/console/anomalies": 0,
    "/console/integrity": 2,
    "/console/schemas": 6,
    "/console/schemas/{name}.expanded.avsc": 1,
    "/console/schemas/{name}.avsc": 1,
}
"""The rows each console page shows of the seeded history, as its access entry records
them: the two entries; the credential's state and its two timeline steps; no role asked
for; no anomaly; one partition's chain head and the access log's (no verification yet);
the six event schemas; one schema file. An export's entry is written as its response
starts, before its rows are counted."""


def scoped_routes() -> list[DeclaredRoute]:
    return [route for route in routes_of(APP) if route.path not in OPEN_ROUTES]


def api_routes() -> list[DeclaredRoute]:
    return [route for route in scoped_routes() if not is_console_path(route.path)]


def console_routes() -> list[DeclaredRoute]:
    return [route for route in scoped_routes() if is_console_path(route.path)]


def url_of(route: DeclaredRoute) -> str:
    return route.path_format.format(
        **{name: PATH_VALUES[name] for name in route.path_parameters}
    )


def token_name_of(route: DeclaredRoute) -> str:
    name = route.path.strip("/").replace("/", "-").replace("{", "")
    return "".join(char for char in name if char.isalnum() or char in "-")[:40]


@dataclass
class Served:
    client: TestClient
    engine: sa.Engine
    tokens: dict[str, str]

    def browser(self) -> TestClient:
        """A client of its own (its own cookies), following no redirect: a browser."""
        return TestClient(self.client.app, raise_server_exceptions=False,
                          follow_redirects=False)

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
    save_search(engine, "alice-uses", "user:alice type:USED", datetime.now(UTC))
    app = create_app(engine, ["env-token-for-scope-tests"],
                     throttle=FailedAuthThrottle(limit=10**9))
    install_console(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(client, engine, {})
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(browser: TestClient, token: str) -> Response:
    """Sign in through the console's form (two requests: the form, and its POST)."""
    form = browser.get("/console/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', form.text)
    assert found is not None, form.text
    answer: Response = browser.post(
        "/console/sign-in", data={"token": token, "form_token": found.group(1)},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    return answer


def rows_in(body: dict[str, Any]) -> int:
    if "entries" in body:
        return len(body["entries"])
    if "credentials" in body:
        return len(body["credentials"])
    if "searches" in body:
        return len(body["searches"])
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
        "/v1/access", "/v1/integrity/heads", "/v1/search", "/v1/searches",
    }
    assert {route.path for route in console_routes()} == set(CONSOLE_ROWS)
    assert all(route.documented for route in api_routes())
    assert not any(route.documented for route in console_routes())
    assert all(route.methods == {"GET"} for route in console_routes())


def test_the_console_refuses_a_page_without_a_declared_scope() -> None:
    app = create_app(create_engine_for("sqlite://"), [])
    app.add_api_route("/console/forgotten", lambda: {}, methods=["GET"])
    with pytest.raises(RuntimeError, match="/console/forgotten"):
        install_console(app)


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
    assert scopes["/v1/search"] == scopes["/v1/searches"] == {Scope.READ_AUDIT_LOG}
    assert scopes["/console/search"] == scopes["/console/search/export"] == {
        Scope.READ_AUDIT_LOG}
    assert scopes["/console/credentials/{credential_id:path}"] == {
        Scope.READ_CREDENTIALS, Scope.READ_AUDIT_LOG}
    assert scopes["/console/roles"] == scopes["/console/anomalies"] == {Scope.READ_AUDIT_LOG}
    assert scopes["/console/integrity"] == {Scope.READ_INTEGRITY}
    assert scopes["/console/schemas"] == scopes["/console/schemas/{name}.avsc"] == {
        Scope.READ_AUDIT_LOG}


def test_the_openapi_document_names_each_routes_scopes() -> None:
    document = APP.openapi()
    for route in api_routes():
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            assert operation["x-required-scopes"] == sorted(route.scopes)
            assert "Needs the token scope" in operation["description"]
            assert "403" in operation["responses"]


@pytest.mark.parametrize("route", api_routes(), ids=lambda route: route.path)
def test_route_with_and_without_its_scopes(served: Served, route: DeclaredRoute) -> None:
    needed = route.scopes
    url, name = url_of(route), token_name_of(route)
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
        assert entry["parameters"][param] == PATH_VALUES[param]

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


@pytest.mark.parametrize("route", console_routes(), ids=lambda route: route.path)
def test_console_page_in_a_session_with_and_without_its_scopes(
    served: Served, route: DeclaredRoute
) -> None:
    url, name = url_of(route), token_name_of(route)
    requests = 0

    exact = served.issue(f"{name}-exact", route.scopes)
    with served.browser() as browser:
        assert sign_in(browser, exact).status_code == 303
        requests += 2
        assert served.last_entry()["token_name"] == f"{name}-exact"
        answer = browser.get(url)
        requests += 1
    assert answer.status_code == 200, answer.text
    entry = served.last_entry()
    assert (entry["token_name"], entry["route"], entry["status"]) == (
        f"{name}-exact", route.path, 200)
    assert entry["rows_returned"] == CONSOLE_ROWS[route.path]
    assert entry["client_address"] == "testclient"
    for param in route.path_parameters:
        assert entry["parameters"][param] == PATH_VALUES[param]

    for missing in sorted(route.scopes):
        lacking_name = f"{name}-no-{missing.value.replace(':', '-')}"
        lacking = served.issue(lacking_name, ALL_SCOPES - {missing})
        with served.browser() as browser:
            assert sign_in(browser, lacking).status_code == 303
            refused = browser.get(url)
            requests += 3
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert f"this route needs the scope {missing.value}" in refused.text
        assert f'scope="{missing.value}"' in refused.headers["www-authenticate"]
        entry = served.last_entry()
        assert (entry["token_name"], entry["status"], entry["rows_returned"]) == (
            lacking_name, 403, None)

    with served.browser() as browser:
        anonymous = browser.get(url)
        requests += 1
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2F")
    assert (served.last_entry()["token_name"], served.last_entry()["status"]) == (None, 303)

    for ending in ("revoked", "expired"):
        token = served.issue(f"{name}-{ending}", ALL_SCOPES)
        with served.browser() as browser:
            assert sign_in(browser, token).status_code == 303
            assert browser.get(url).status_code == 200
            requests += 3
            cookie = browser.cookies[SESSION_COOKIE]
            with write_transaction(served.engine) as connection:
                if ending == "revoked":
                    revoke_token(connection, f"{name}-{ending}", datetime.now(UTC))
                else:
                    connection.execute(sa.update(api_tokens).where(
                        api_tokens.c.name == f"{name}-{ending}",
                    ).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
            ended = browser.get(url)
            requests += 1
            assert ended.status_code == 303
            assert ended.headers["location"].endswith(f"&ended={ending}")
            assert f'{SESSION_COOKIE}=""' in ended.headers["set-cookie"]
            entry = served.last_entry()
            assert (entry["token_name"], entry["status"]) == (f"{name}-{ending}", 303)
            replayed = browser.get(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
            requests += 1
            assert replayed.status_code == 303 and "ended" not in replayed.headers["location"]
            again = sign_in(browser, token)
            requests += 2
        assert again.status_code == 401
        assert ("was revoked" if ending == "revoked"
                else "expired at 2020-01-01T00:00:00Z") in again.text
        entry = served.last_entry()
        assert (entry["token_name"], entry["route"], entry["status"]) == (
            f"{name}-{ending}", "/console/sign-in", 401)

    with served.browser() as browser:
        unknown = sign_in(browser, "cat_" + "x" * 43)
        requests += 2
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
    with served.browser() as browser:
        assert sign_in(browser, "env-token-for-scope-tests").status_code == 303
        for route in console_routes():
            assert browser.get(url_of(route)).status_code == 200, route.path
            assert served.last_entry()["token_name"] == "env:1"


OPEN_REQUESTS = {
    "/healthz": ("GET", "/healthz", 200),
    "/metrics": ("GET", "/metrics", 200),
    "/openapi.json": ("GET", "/openapi.json", 200),
    "/console": ("GET", "/console", 303),
    "/console/": ("GET", "/console/", 303),
    "/console/sign-in": ("GET", "/console/sign-in", 200),
    "/console/sign-out": ("POST", "/console/sign-out", 303),
    "/console/static": ("GET", "/console/static/console.css", 200),
}
"""A request to each open route, and its status without a token or a session."""


def test_open_routes_need_no_token_and_the_probes_are_not_recorded(served: Served) -> None:
    assert set(OPEN_REQUESTS) == OPEN_ROUTES
    with served.browser() as browser:
        for method, url, status in OPEN_REQUESTS.values():
            assert browser.request(method, url).status_code == status, url
    with served.engine.connect() as connection:
        recorded = connection.execute(
            sa.select(access_log.c.route, access_log.c.token_name)
            .order_by(access_log.c.position)
        ).all()
    assert [tuple(row) for row in recorded] == [
        ("/openapi.json", None), ("/console", None), ("/console/", None),
        ("/console/sign-in", None), ("/console/sign-out", None),
        ("/console/static/console.css", None),
    ]


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


def test_console_requests_are_recorded_with_their_query_redacted_and_bounded(
    served: Served,
) -> None:
    with served.browser() as browser:
        assert sign_in(browser, "env-token-for-scope-tests").status_code == 303
        signed_in = served.last_entry()
        page = browser.get("/console/search", params={
            "q": "user:alice", "session_token": "leaked", "limit": "1", "note": "\x1b" + "x" * 600,
        })
    assert page.status_code == 200
    assert (signed_in["route"], signed_in["token_name"], signed_in["parameters"]) == (
        "/console/sign-in", "env:1", {})
    assert "env-token-for-scope-tests" not in str(signed_in)
    entry = served.last_entry()
    assert (entry["route"], entry["token_name"], entry["rows_returned"]) == (
        "/console/search", "env:1", 1)
    assert entry["parameters"]["session_token"] == "[redacted]"
    assert (entry["parameters"]["q"], entry["parameters"]["limit"]) == ("user:alice", "1")
    note = entry["parameters"]["note"]
    assert note.startswith("\\x1bxxx") and note.endswith("…") and len(note) == 256
