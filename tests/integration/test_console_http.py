"""The console over HTTP on SQLite and PostgreSQL: headers and CSP on every page, no inline
code, hostile text escaped, sign-in protected against cross-site requests, guessing and
open redirects, bearer access for tools, exports identical to the command line's, and
precise errors as pages."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.api.throttle import FailedAuthThrottle
from client_audit.cli.main import cli
from client_audit.console import install_console
from client_audit.console.headers import CONTENT_SECURITY_POLICY
from tests.integration.search_support import HOSTILE_NAME, G, search_engine, search_url
from tests.integration.test_queries import E

pytestmark = pytest.mark.integration

__all__ = ["search_engine", "search_url"]

TOKEN = "console-http-token-0123456789"

PAGES = [
    "/console/search",
    "/console/search?q=type%3AUSED+-outcome%3AALLOWED",
    "/console/search?q=tpye%3AX",
    f"/console/credentials/{quote(G, safe='')}",
    f"/console/credentials/{quote(G, safe='')}?at=2026-03-03T19:00:00Z",
    f"/console/credentials/{quote(E, safe='')}",
    "/console/credentials/nobody",
    "/console/roles",
    "/console/roles?role=viewer",
    "/console/anomalies",
    "/console/integrity",
    "/console/schemas",
]


def console_app(engine: sa.Engine, throttle: FailedAuthThrottle | None = None) -> TestClient:
    app = create_app(engine, [TOKEN], throttle=throttle or FailedAuthThrottle(limit=10**6))
    install_console(app)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def sign_in(client: TestClient, token: str = TOKEN, next_path: str = "") -> tuple[int, str]:
    form = client.get("/console/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', form.text)
    assert found is not None
    response = client.post("/console/sign-in", data={
        "token": token, "form_token": found.group(1), "next": next_path,
    }, headers={"Sec-Fetch-Site": "same-origin"})
    return response.status_code, response.headers.get("location", "")


@pytest.fixture(scope="module")
def browser(search_engine: sa.Engine) -> Iterator[TestClient]:
    """A client signed in to the console, with its session cookie."""
    with console_app(search_engine) as client:
        assert sign_in(client) == (303, "/console/search")
        yield client


class _Inline(HTMLParser):
    """Finds what a strict CSP refuses: inline scripts and styles, event handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style" or "style" in names:
            self.found.append(f"inline style on <{tag}>")
        self.found += [f"{name} on <{tag}>" for name in names if name.startswith("on")]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_headers_and_no_inline_code(browser: TestClient, path: str) -> None:
    response = browser.get(path)
    assert response.status_code in (200, 404, 422), response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    parser = _Inline()
    parser.feed(response.text)
    assert parser.found == []
    for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', response.text):
        assert browser.get(asset).status_code == 200, asset


def test_hostile_display_names_and_ids_are_escaped(browser: TestClient) -> None:
    page = browser.get(f"/console/credentials/{quote(G, safe='')}").text
    assert HOSTILE_NAME not in page and "\u202e" not in page
    assert "<script>alert(1)</script>" not in page
    assert "\\u202eyek yolped &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;" in page
    sql_like = browser.get(f"/console/credentials/{quote(E, safe='')}")
    assert sql_like.status_code == 200
    assert "x&#39; OR &#39;1&#39;=&#39;1" in sql_like.text


def test_a_search_page_shows_each_problem_with_its_column(browser: TestClient) -> None:
    response = browser.get("/console/search", params={"q": "tpye:X <b> -"})
    assert response.status_code == 422
    assert 'data-column="1"' in response.text and 'data-column="12"' in response.text
    assert "<b>" not in response.text.split("<main", 1)[1]


def test_without_a_session_pages_and_exports_send_to_sign_in(
    search_engine: sa.Engine,
) -> None:
    with console_app(search_engine) as client:
        for path in ("/console/search?q=a%20b", "/console/search/export?q=x",
                     "/console/credentials/cred-a", "/console/integrity"):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2F")
        assert client.get("/console/").headers["location"] == "/console/search"


def test_sign_in_refuses_other_sites_stale_forms_and_wrong_tokens(
    search_engine: sa.Engine,
) -> None:
    with console_app(search_engine) as client:
        form = client.get("/console/sign-in")
        assert "set-cookie" in form.headers
        cookie = form.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/console/sign-in" in cookie
        token = re.search(r'name="form_token" value="([^"]+)"', form.text)
        assert token is not None
        cross_site = client.post("/console/sign-in", data={
            "token": TOKEN, "form_token": token.group(1),
        }, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross_site.status_code == 403
        other_origin = client.post("/console/sign-in", data={
            "token": TOKEN, "form_token": token.group(1),
        }, headers={"Origin": "https://evil.example"})
        assert other_origin.status_code == 403
        stale = client.post("/console/sign-in", data={"token": TOKEN, "form_token": "forged"},
                            headers={"Sec-Fetch-Site": "same-origin"})
        assert stale.status_code == 403 and "expired" in stale.text
        assert sign_in(client, "wrong-token")[0] == 401
        assert "client_audit_session" not in client.cookies


@pytest.mark.parametrize("target", [
    "//evil.example/console/search", "https://evil.example/console/", "/elsewhere",
    "/console\\..\\x", "/console/search\r\nSet-Cookie: x=1", "",
])
def test_sign_in_never_redirects_off_the_console(
    search_engine: sa.Engine, target: str
) -> None:
    with console_app(search_engine) as client:
        assert sign_in(client, next_path=target) == (303, "/console/search")


def test_sign_in_returns_to_the_page_asked_for(search_engine: sa.Engine) -> None:
    with console_app(search_engine) as client:
        assert sign_in(client, next_path="/console/search?q=type%3AUSED") == (
            303, "/console/search?q=type%3AUSED",
        )


def test_refused_sign_ins_are_throttled_per_address(search_engine: sa.Engine) -> None:
    with console_app(search_engine, FailedAuthThrottle(limit=3)) as client:
        assert [sign_in(client, "guess")[0] for _ in range(3)] == [401, 401, 401]
        status, _location = sign_in(client)
        assert status == 429


def test_the_session_cookie_is_secure_under_tls(search_engine: sa.Engine) -> None:
    app = create_app(search_engine, [TOKEN])
    install_console(app)
    with TestClient(app, base_url="https://console.test", follow_redirects=False) as client:
        form = client.get("/console/sign-in")
        token = re.search(r'name="form_token" value="([^"]+)"', form.text)
        assert token is not None
        response = client.post("/console/sign-in", data={
            "token": TOKEN, "form_token": token.group(1),
        }, headers={"Origin": "https://console.test"})
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "client_audit_session=" in cookie
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert TOKEN not in cookie


def test_sign_out_needs_the_session_form_token(search_engine: sa.Engine) -> None:
    with console_app(search_engine) as client:
        sign_in(client)
        page = client.get("/console/search").text
        form_token = re.search(r'name="form_token" value="([^"]+)"', page)
        assert form_token is not None
        forged = client.post("/console/sign-out", data={"form_token": "forged"},
                             headers={"Sec-Fetch-Site": "same-origin"})
        assert forged.status_code == 403
        assert client.get("/console/search").status_code == 200
        out = client.post("/console/sign-out", data={"form_token": form_token.group(1)},
                          headers={"Sec-Fetch-Site": "same-origin"})
        assert out.status_code == 303
        assert client.get("/console/search").status_code == 303


def test_tools_read_the_console_with_a_bearer_token(search_engine: sa.Engine) -> None:
    with console_app(search_engine) as client:
        ok = client.get("/console/search", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "Sign out" not in ok.text
        refused = client.get("/console/search", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Bearer realm="client-audit"')
        assert "text/html" in refused.headers["content-type"]


def test_exports_stream_what_the_command_line_writes(
    browser: TestClient, search_url: str
) -> None:
    query = "type:USED -network:10.0.0.0/8"
    exported = {}
    for export_format in ("csv", "csv-raw", "jsonl"):
        response = browser.get("/console/search/export",
                               params={"q": query, "format": export_format})
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith(
            'attachment; filename="client-audit-search-'
        )
        expected = CliRunner().invoke(
            cli, ["--database-url", search_url, "search", query, "--format", export_format]
        ).stdout
        assert response.text == expected
        exported[export_format] = response.text
    rows = list(csv.DictReader(io.StringIO(exported["csv"])))
    assert [row["sourceIp"] for row in rows] == [
        "203.0.113.9", "192.168.10.5", "2001:db8:abcd:12::1", "198.51.100.9", "2001:db8:1::7",
        "192.168.10.5", "2001:db8:abcd:12::1",
    ]


def test_bad_parameters_are_precise_pages(browser: TestClient) -> None:
    for path, status, text in (
        ("/console/credentials/cred-a?at=yesterday", 422, "at"),
        ("/console/credentials/cred-a?at=2026-03-03T10:00:00", 422, "has no UTC offset"),
        ("/console/roles?role=viewer&from=2026-03-04T00:00:00Z&to=2026-03-03T00:00:00Z", 422,
         "must be after from"),
        ("/console/anomalies?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", 422,
         "more than 366 days"),
        ("/console/search/export?q=tpye:x", 422, "is not a qualifier"),
        ("/console/search/export?q=&format=xlsx", 422, "format"),
        ("/console/search?limit=0", 422, "limit"),
        ("/console/schemas/clientaudit.events.Nope.avsc", 404, "no such event schema"),
        ("/console/schemas/..%2F..%2Fetc%2Fpasswd.avsc", 404, "Not Found"),
        ("/console/credentials/nobody", 404, "no credential"),
    ):
        response = browser.get(path)
        assert response.status_code == status, (path, response.text)
        assert text in response.text, path
        assert "text/html" in response.headers["content-type"]


def test_api_errors_stay_json(browser: TestClient) -> None:
    response = browser.get("/v1/search", params={"q": "tpye:x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
