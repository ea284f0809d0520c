"""GET /v1/search and /v1/searches on SQLite and PostgreSQL: the search language over HTTP,
cursor paging, precise 422s naming each term and its column, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from client_audit.api import create_app
from projections.queries import AuditEntry
from projections.queries.search import MAX_QUERY_LENGTH
from projections.write.saved_searches import save_search
from tests.integration.search_support import names, newest_first, search_engine, search_url
from tests.integration.test_search import SEARCH_CASES

pytestmark = pytest.mark.integration

__all__ = ["search_engine", "search_url"]

TOKEN = "search-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(search_engine: sa.Engine) -> Iterator[TestClient]:
    saved_at = datetime(2026, 3, 3, tzinfo=UTC)
    save_search(search_engine, "denied", "outcome:DENIED", saved_at)
    with TestClient(create_app(search_engine, [TOKEN]), raise_server_exceptions=False) as client:
        yield client


def walked(client: TestClient, query: str, limit: int = 100) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    params: dict[str, Any] = {"q": query, "limit": limit}
    while True:
        response = client.get("/v1/search", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        entries += [AuditEntry.model_validate(entry) for entry in body["entries"]]
        if body["nextCursor"] is None:
            return entries
        params = {"q": query, "limit": limit, "cursor": body["nextCursor"]}


@pytest.mark.parametrize(("query", "expected"), SEARCH_CASES)
def test_search_over_http(client: TestClient, query: str, expected: list[str]) -> None:
    assert names(walked(client, query)) == newest_first(expected)


@pytest.mark.parametrize(("query", "expected"), SEARCH_CASES[:8])
def test_search_pages_of_two(client: TestClient, query: str, expected: list[str]) -> None:
    assert names(walked(client, f"{query} sort:oldest", limit=2), newest_first=False) == expected


def test_a_bad_query_is_422_naming_each_term_and_column(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "user:alice tpye:USED ip:10.0.0.0/8"},
                          headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_query"
    assert [(p["parameter"], p["column"]) for p in body["problems"]] == [("q", 12), ("q", 22)]
    assert body["problems"][0]["message"].startswith(
        "column 12, 'tpye:USED': 'tpye' is not a qualifier"
    )
    assert "use network: for a CIDR" in body["problems"][1]["message"]


def test_a_cursor_of_the_other_order_is_refused(client: TestClient) -> None:
    first = client.get("/v1/search", params={"q": "type:USED", "limit": 2}, headers=AUTH).json()
    response = client.get("/v1/search", headers=AUTH, params={
        "q": "type:USED sort:oldest", "limit": 2, "cursor": first["nextCursor"],
    })
    assert response.status_code == 422
    assert response.json()["problems"][0]["parameter"] == "cursor"


@pytest.mark.parametrize("params", [
    {"q": "x" * (MAX_QUERY_LENGTH + 1)},
    {"q": "type:USED", "limit": 0},
    {"q": "type:USED", "limit": 1001},
    {"q": "type:USED", "cursor": "not-a-cursor"},
    {"q": "user:a\x00"},
])
def test_out_of_bounds_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/search", params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["problems"]


def test_search_needs_a_bearer_token(client: TestClient) -> None:
    assert client.get("/v1/search", params={"q": ""}).status_code == 401
    assert client.get("/v1/searches").status_code == 401


def test_saved_searches_are_listed(client: TestClient) -> None:
    response = client.get("/v1/searches", headers=AUTH)
    assert response.status_code == 200
    assert [(s["name"], s["query"]) for s in response.json()["searches"]] == [
        ("denied", "outcome:DENIED")
    ]


def test_the_openapi_document_describes_search(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/search"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {
        "q", "limit", "cursor",
    }
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AuditEntriesPage"}
    assert "422" in operation["responses"] and "401" in operation["responses"]
    assert "/v1/searches" in document["paths"]
    trail = document["paths"]["/v1/trail"]["get"]["responses"]["200"]
    assert trail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditEntriesPage"
    }
