"""Latency through real HTTP of the console's search and credential pages and of the API's
trail routes, on a large audit log in PostgreSQL.

Builds (or, with ``--reuse``, keeps) an audit log of ``--rows`` events in its own schema the
way ``bench/query_latency.py`` does (a simulated stream through the projection store, grown
by copies under new ids), migrates it to this version's head, starts ``client-audit serve``
over it as a separate process, signs in to the console like a browser, and times with one
kept-alive HTTP connection, for ``--samples`` random keys each:

- the console search page ``credential:ID`` and ``user:ID -outcome:ALLOWED`` (50 rows);
- the console credential page of a credential;
- ``GET /v1/trail?credentialId=ID`` and ``GET /v1/trail?userId=ID`` (100 rows).

Prints p50/p99/max in milliseconds (client-side, whole responses) and the PostgreSQL plans
of the timed searches, and saves them as JSON under ``bench/results/``.

    .venv/bin/python bench/console_latency.py --rows 10000000 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.query_latency import held_rows, load, multiply, prepare_schema, schema_url
from devservices.ports import free_port
from projections.db.backends import backend_of
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log, credentials
from projections.queries.search import parse_search
from projections.queries.search.conditions import search_conditions
from projections.queries.search.run import search_page_request

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "console-latency-bench-token"
BASE_ROWS = 1_000_000
ROOT = Path(__file__).resolve().parents[1]


def ensure_log(base: str, schema: str, rows: int, seed: int) -> dict[str, Any] | None:
    """The log of ``rows`` events in ``schema``: built when missing, migrated to head."""
    url = schema_url(base, schema)
    copies = max(1, rows // BASE_ROWS)
    held = held_rows(base, schema)
    loading: dict[str, Any] | None = None
    if held < min(rows, BASE_ROWS):
        prepare_schema(base, schema, False, rows)
        print(f"loading {min(rows, BASE_ROWS):,} events into {schema}", file=sys.stderr)
        loading = {"base": load(url, min(rows, BASE_ROWS), seed)}
        held = min(rows, BASE_ROWS)
    if held < rows:
        print(f"copying the log to {copies} times its size", file=sys.stderr)
        loading = {**(loading or {}), "copies": multiply(url, copies, max(1, held // BASE_ROWS))}
    upgrade(url)
    return loading


@contextmanager
def served(url: str) -> Iterator[str]:
    """``client-audit serve`` over ``url`` on a free port, until the block ends."""
    port = free_port()
    env = {**os.environ, "CLIENT_AUDIT_API_TOKENS": json.dumps([TOKEN]),
           "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "client_audit.cli", "--database-url", url, "serve",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"serve did not start:\n{log.read().decode()}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(15)


def signed_in(client: httpx.Client) -> None:
    """Sign in through the console's form, as a browser does (cookies kept by the client)."""
    form = client.get("/console/sign-in")
    token = re.search(r'name="form_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("no sign-in form")
    answer = client.post("/console/sign-in", data={
        "token": TOKEN, "form_token": token.group(1), "next": "/console/search",
    }, headers={"Origin": str(client.base_url)})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}")


def timed(client: httpx.Client, paths: list[str], headers: dict[str, str] | None = None
          ) -> dict[str, Any]:
    """Milliseconds per whole response for each path (after a warm-up of ten)."""
    for path in paths[:10]:
        client.get(path, headers=headers)
    durations = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        response.read()
        durations.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    durations.sort()
    return {
        "samples": len(durations),
        "p50_ms": round(statistics.median(durations), 2),
        "p99_ms": round(durations[min(len(durations) - 1, int(len(durations) * 0.99))], 2),
        "max_ms": round(durations[-1], 2),
    }


def search_path(query: str) -> str:
    return "/console/search?" + urlencode({"q": query})


def plan_of(connection: sa.Connection, query: str) -> list[str]:
    """The PostgreSQL plan of a search's first page (the statement audit_page runs)."""
    parsed = parse_search(query)
    conditions, _keep = search_conditions(parsed, backend_of(connection))
    horizon = connection.scalar(sa.select(sa.func.max(audit_log.c.position)))
    page = search_page_request(parsed, 50)
    statement = (
        sa.select(audit_log).where(*conditions, audit_log.c.position <= horizon)
        .order_by(audit_log.c.position.desc() if page.newest_first else audit_log.c.position)
        .limit(51)
    )
    compiled = statement.compile(dialect=connection.dialect,
                                 compile_kwargs={"literal_binds": True})
    rows = connection.execute(sa.text(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}")).scalars()
    return [str(row) for row in rows]


def planned_searches(connection: sa.Connection, credential: str, owner: str) -> list[str]:
    """The timed searches and other common ones, with values found in the log."""
    row = connection.execute(
        sa.select(audit_log.c.client_id, audit_log.c.correlation_id, audit_log.c.source_ip)
        .where(audit_log.c.credential_id == credential, audit_log.c.source_ip.is_not(None))
        .limit(1)
    ).one_or_none()
    found = [f'credential:"{credential}"', f'user:"{owner}" -outcome:ALLOWED']
    if row is not None:
        found += [f'client:"{row.client_id}"', f'correlation:"{row.correlation_id}"',
                  f"ip:{row.source_ip}"]
    return [*found, "type:USED outcome:DENIED", "anomaly:USE_AFTER_DELETION", "role:admin",
            "laptop type:USED"]


def keys(connection: sa.Connection, column: Any, samples: int, seed: int) -> list[str]:
    found = list(connection.scalars(sa.select(column).distinct()))
    return random.Random(seed).sample(found, min(samples, len(found)))


def measure(url: str, samples: int, seed: int) -> dict[str, Any]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            total = connection.scalar(sa.select(sa.func.count()).select_from(audit_log))
            credential_keys = keys(connection, credentials.c.credential_id, samples, seed)
            owner_keys = keys(connection, credentials.c.user_id, samples, seed + 1)
            plans = {query: plan_of(connection, query)
                     for query in planned_searches(connection, credential_keys[0], owner_keys[0])}
            server = connection.scalar(sa.text("SHOW server_version"))
    finally:
        engine.dispose()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    routes: dict[str, Callable[[str], str]] = {
        "console_search_by_credential": lambda key: search_path(f'credential:"{key}"'),
        "console_credential_page": lambda key: f"/console/credentials/{quote(key, safe='')}",
        "v1_trail_by_credential": lambda key: "/v1/trail?" + urlencode({"credentialId": key}),
    }
    owner_routes: dict[str, Callable[[str], str]] = {
        "console_search_by_owner_negated": lambda key: search_path(
            f'user:"{key}" -outcome:ALLOWED'
        ),
        "v1_trail_by_owner": lambda key: "/v1/trail?" + urlencode({"userId": key}),
    }
    figures: dict[str, Any] = {}
    with served(url) as base, httpx.Client(base_url=base, timeout=60) as client:
        signed_in(client)
        for name, path in {**routes, **owner_routes}.items():
            chosen = owner_keys if name in owner_routes else credential_keys
            headers = bearer if name.startswith("v1_") else None
            figures[name] = timed(client, [path(key) for key in chosen], headers)
    return {"audit_rows": total, "postgresql": server, "http": figures, "plans": plans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL")
    parser.add_argument("--schema", help="[default: client_audit_console_bench_ROWS]")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")
    schema = args.schema or f"client_audit_console_bench_{args.rows}"
    loading = ensure_log(args.database_url, schema, args.rows, args.seed)
    measured = measure(schema_url(args.database_url, schema), args.samples, args.seed)
    result = {
        "benchmark": "console_latency",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema": schema,
        "load": loading,
        "targets_ms": {"console_p99": 100, "v1_p99": 25},
        **measured,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result["at"].replace(":", "")
    path = RESULTS / f"console_latency-{measured['audit_rows']}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"saved {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
