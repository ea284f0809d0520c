"""Whatever the contract accepts can be stored, paged, fetched and exported, on both stores.

Credentials with the longest ids the contract allows (in four-byte characters too), ids with
slashes, percent signs, question marks, other scripts, and display names that would be
formulas or terminal tricks elsewhere: every one is on a page of /v1/credentials, fetched
by its id (in the path, or by ``credentialId`` when the id ends in ``/history``), in its
trail, and in the CLI's CSV export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.cli.main import cli
from projections.db.engine import create_engine_for
from schemas.limits import IDENTIFIER_MAX
from tests.builders_projection import History
from tests.integration.serve_support import start, stop
from tests.seeding import DATABASE_KINDS, seed, topic_name

pytestmark = pytest.mark.integration

TOKEN = "token-for-odd-ids-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ODD_IDS = [
    "x" * IDENTIFIER_MAX,
    "🔑" * IDENTIFIER_MAX,
    "cred/with/slashes",
    "cred/history",
    "100%25 sure?",
    "a#fragment&b=c",
    "ユーザー-ü-☃",
    "' OR ''='",
]


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def odd_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('odd') / 'audit.db'}"
    else:
        base = request.getfixturevalue("postgres_test_url")
        schema = f"odd{topic_name('x')[1:9]}"
        _execute(base, f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options=-csearch_path%3D{schema}"
    _seed(url)
    yield url
    if schema is not None:
        _execute(request.getfixturevalue("postgres_test_url"), f'DROP SCHEMA "{schema}" CASCADE')


def _execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


def _seed(url: str) -> None:
    events = []
    for index, credential_id in enumerate(ODD_IDS):
        history = History(credential_id, user_id="owner-odd", client_id=f"client-odd-{index}")
        name = '=HYPERLINK("http://evil.example/","x")' if index % 2 else "\u202eevil-looking"
        events += [history.created(display_name=name), history.used("::ffff:10.1.2.3")]
    seed(url, events, topic=topic_name("odd"))


@pytest.fixture(scope="module")
def client(odd_url: str) -> Iterator[TestClient]:
    engine = create_engine_for(odd_url)
    with TestClient(create_app(engine, [TOKEN]), raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


def test_every_odd_credential_is_on_a_page(client: TestClient) -> None:
    seen: list[str] = []
    query: dict[str, object] = {"userId": "owner-odd", "limit": 1}
    for _ in range(len(ODD_IDS) + 2):
        response = client.get("/v1/credentials", params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [row["credentialId"] for row in body["credentials"]]
        if body["nextCursor"] is None:
            break
        query["cursor"] = body["nextCursor"]
    assert sorted(seen) == sorted(ODD_IDS)


@pytest.fixture(scope="module")
def served(odd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The API as a real server process: paths are percent-decoded once, as in production
    (the in-process test client decodes them twice)."""
    server = start(odd_url, TOKEN, tmp_path_factory.mktemp("serve"))
    with httpx.Client(base_url=server.base, headers=AUTH, timeout=10) as client:
        yield client
    stop(server)


@pytest.mark.parametrize("credential_id", ODD_IDS)
def test_every_odd_credential_can_be_fetched_by_its_id(
    served: httpx.Client, credential_id: str
) -> None:
    by_filter = served.get("/v1/credentials", params={"credentialId": credential_id})
    assert [row["credentialId"] for row in by_filter.json()["credentials"]] == [credential_id]
    trail = served.get("/v1/trail", params={"credentialId": credential_id})
    assert [entry["sourceIp"] for entry in trail.json()["entries"]] == [None, "::ffff:10.1.2.3"]
    if credential_id.endswith("/history"):
        return
    path = quote(credential_id, safe="")
    response = served.get(f"/v1/credentials/{path}")
    assert response.status_code == 200, response.text
    assert response.json()["credentialId"] == credential_id
    history = served.get(f"/v1/credentials/{path}/history")
    assert history.status_code == 200
    assert len(history.json()["entries"]) == 2


def test_the_csv_export_holds_every_odd_credential_with_formulas_neutralised(
    odd_url: str,
) -> None:
    result = CliRunner().invoke(
        cli, ["--database-url", odd_url, "query", "credentials", "--user-id", "owner-odd",
              "--format", "csv"], catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(row["credentialId"] for row in rows) == sorted(
        "'" + each if each.startswith(("=", "+", "-", "@")) else each for each in ODD_IDS
    )
    names = {row["displayName"] for row in rows}
    assert names == {"'=HYPERLINK(\"http://evil.example/\",\"x\")", "\u202eevil-looking"}


def test_a_table_of_them_shows_the_direction_override_escaped(odd_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["--database-url", odd_url, "query", "credentials", "--user-id", "owner-odd",
              "--format", "table", "--limit", "20"], catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "\u202e" not in result.stdout
    assert "\\u202eevil-looking" in result.stdout
