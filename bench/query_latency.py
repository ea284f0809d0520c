"""Latency of the audit-trail queries on a large audit log in PostgreSQL.

Builds an audit log of ``--rows`` events (default 1,000,000) in its own PostgreSQL schema:
a simulated stream (``producer.simulate.Simulation``, about ten events per credential,
four credentials per owner) written through ``projections.write.store.ProjectionStore.apply`` in
large batches, so every row, state and anomaly flag is what the projector would write
(Kafka is left out: this measures reads). Then times the first page (100 rows) of

- the trail of one credential, and
- the trail of one owner (``user_id``),

with the query functions the CLI and API use, for ``--samples`` random keys each, and
prints p50/p99 in milliseconds. Results are saved as JSON under ``bench/results/``.

    .venv/bin/python bench/query_latency.py --rows 1000000 --database-url postgresql+psycopg://…

``--reuse`` keeps an already built schema of the right size (re-runs skip the load).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from producer.simulate import Simulation, SimulationConfig
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log, credentials
from projections.model.positioned import PositionedEvent
from projections.queries import AuditPageRequest, TrailFilter, UsesFilter, audit_trail, uses
from projections.write.store import ProjectionStore

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 10_000
TOPIC = "bench.credential-lifecycle"
EVENTS_PER_CREDENTIAL = 10


def schema_url(base: str, schema: str) -> str:
    """The URL of ``base`` with its search_path set to ``schema``."""
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def held_rows(base: str, schema: str) -> int:
    """Audit rows already in ``schema`` (0 when it does not exist)."""
    engine = create_engine_for(base)
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = :s AND table_name = 'audit_log'"),
                {"s": schema},
            )
            if not exists:
                return 0
            count = connection.scalar(sa.text(f'SELECT count(*) FROM "{schema}".audit_log'))
            return int(count or 0)
    finally:
        engine.dispose()


def prepare_schema(base: str, schema: str, reuse: bool, rows: int) -> bool:
    """Create (or keep, with ``reuse`` and the right size) the schema; True if it must load."""
    engine = create_engine_for(base)
    try:
        with engine.begin() as connection:
            exists = connection.scalar(
                sa.text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": schema},
            )
            if exists and reuse:
                held = connection.scalar(sa.text(f'SELECT count(*) FROM "{schema}".audit_log'))
                if held is not None and held >= rows:
                    return False
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    return True


def load(url: str, rows: int, seed: int) -> dict[str, Any]:
    """Write ``rows`` simulated events through the projection store; return what it took.

    The simulation is sized a little larger than ``rows`` and cut at ``rows`` events (the
    stream is in time order, so the log is the stream up to an instant).
    """
    upgrade(url)
    engine = create_engine_for(url)
    store = ProjectionStore(engine)
    simulation = Simulation(SimulationConfig(
        credentials=max(1, rows * 115 // (100 * EVENTS_PER_CREDENTIAL)),
        events_per_credential=EVENTS_PER_CREDENTIAL,
        seed=seed,
    ))
    started = time.monotonic()
    offset = 0
    stream: Iterator[Any] = islice(simulation.events(), rows)
    while batch := list(islice(stream, BATCH)):
        positioned = [
            PositionedEvent(event, TOPIC, 0, offset + index) for index, event in enumerate(batch)
        ]
        offset += len(batch)
        store.apply(positioned, {(TOPIC, 0): offset})
        if offset % 100_000 < BATCH:
            elapsed = time.monotonic() - started
            print(f"  loaded {offset:>9,} events ({offset / elapsed:,.0f}/s)", file=sys.stderr)
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE audit_log"))
        connection.execute(sa.text("ANALYZE credentials"))
    engine.dispose()
    return {"events": offset, "seconds": round(time.monotonic() - started, 1),
            "method": "Simulation -> ProjectionStore.apply, batches of 10,000"}


def _drop_indexes(connection: sa.Connection) -> list[str]:
    """Drop the secondary indexes of the two tables; return the DDL that recreates them."""
    recreate: list[str] = []
    for table in (audit_log, credentials):
        for index in table.indexes:
            connection.execute(sa.text(f'DROP INDEX IF EXISTS "{index.name}"'))
            recreate.append(str(sa.schema.CreateIndex(index).compile(dialect=connection.dialect)))
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and constraint.name:
                columns = ", ".join(column.name for column in constraint.columns)
                name = f'"{constraint.name}"'
                connection.execute(sa.text(f"ALTER TABLE {table.name} DROP CONSTRAINT {name}"))
                add = f"ALTER TABLE {table.name} ADD CONSTRAINT {name} UNIQUE ({columns})"
                recreate.append(add)
    return recreate


def multiply(url: str, copies: int, first: int = 1) -> dict[str, Any]:
    """Grow the loaded log to ``copies`` times its size by copying it under new ids.

    Copy k renames every credential and owner with a ``~k`` suffix and shifts the Kafka
    offsets, so each copy adds as many distinct credentials and owners as the original;
    source addresses are kept, so an address sees ``copies`` times the traffic. Copies are
    not hash-chained: this log is for measuring reads only.
    """
    engine = create_engine_for(url)
    started = time.monotonic()
    audit_columns = [c.name for c in audit_log.columns if c.name != "position"]
    renamed = {
        "event_id": "gen_random_uuid()::text",
        "credential_id": "credential_id || '~' || k",
        "user_id": "user_id || '~' || k",
        "actor_id": "actor_id || '~' || k",
        "kafka_offset": "kafka_offset + k * :span",
    }
    state_columns = [c.name for c in credentials.columns]
    with engine.begin() as connection:
        original = "FROM audit_log WHERE credential_id NOT LIKE '%~%'"
        span = connection.scalar(sa.text(f"SELECT max(kafka_offset) + 1 {original}"))
        base = connection.scalar(sa.text(f"SELECT max(position) {original}"))
    with engine.begin() as connection:
        recreate = _drop_indexes(connection)
        for k in range(first, copies):
            connection.execute(
                sa.text(
                    f"INSERT INTO audit_log ({', '.join(audit_columns)}) "
                    f"SELECT {', '.join(renamed.get(c, c) for c in audit_columns)} "
                    "FROM audit_log, (SELECT :k AS k) AS copy WHERE position <= :base"
                ),
                {"k": k, "span": span, "base": base},
            )
            connection.execute(
                sa.text(
                    f"INSERT INTO credentials ({', '.join(state_columns)}) "
                    f"SELECT {', '.join(renamed.get(c, c) for c in state_columns)} "
                    "FROM credentials, (SELECT :k AS k) AS copy "
                    "WHERE credential_id NOT LIKE '%~%'"
                ),
                {"k": k},
            )
            print(f"  copy {k} of {copies - 1} written", file=sys.stderr)
        for statement in recreate:
            connection.execute(sa.text(statement))
        print("  indexes rebuilt", file=sys.stderr)
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE audit_log"))
        connection.execute(sa.text("ANALYZE credentials"))
    engine.dispose()
    return {"copies": copies, "seconds": round(time.monotonic() - started, 1),
            "method": "INSERT ... SELECT copies of the loaded log under new ids"}


def sample_keys(connection: sa.Connection, column: Any, samples: int, seed: int) -> list[str]:
    keys = list(connection.scalars(sa.select(column).distinct()))
    return random.Random(seed).sample(keys, min(samples, len(keys)))


def timed(connection: sa.Connection, make: Callable[[str], TrailFilter],
          keys: list[str]) -> dict[str, Any]:
    """Milliseconds for the first page of each key's trail (after a short warm-up)."""
    first = AuditPageRequest(limit=100)
    for key in keys[:10]:
        audit_trail(connection, make(key), first)
    durations = []
    rows = 0
    for key in keys:
        started = time.perf_counter()
        page = audit_trail(connection, make(key), first)
        durations.append((time.perf_counter() - started) * 1000)
        rows += len(page.rows)
    durations.sort()
    return {
        "samples": len(durations),
        "p50_ms": round(statistics.median(durations), 2),
        "p99_ms": round(durations[min(len(durations) - 1, int(len(durations) * 0.99))], 2),
        "max_ms": round(durations[-1], 2),
        "mean_rows_per_page": round(rows / max(1, len(durations)), 1),
    }


def timed_uses(connection: sa.Connection, addresses: list[str]) -> dict[str, Any]:
    """Milliseconds for the first page of uses from each address."""
    first = AuditPageRequest(limit=100)
    for address in addresses[:10]:
        uses(connection, UsesFilter(network=address), first)
    durations = []
    for address in addresses:
        started = time.perf_counter()
        uses(connection, UsesFilter(network=address), first)
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return {
        "samples": len(durations),
        "p50_ms": round(statistics.median(durations), 2),
        "p99_ms": round(durations[min(len(durations) - 1, int(len(durations) * 0.99))], 2),
        "max_ms": round(durations[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL")
    parser.add_argument("--schema", default="client_audit_bench")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep a schema already loaded")
    parser.add_argument("--copies", type=int, default=1,
                        help="grow the log to COPIES times --rows by copying it under new ids")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")
    url = schema_url(args.database_url, args.schema)
    loading = None
    held = held_rows(args.database_url, args.schema) if args.reuse else 0
    if held < args.rows * args.copies:
        if held < args.rows:
            prepare_schema(args.database_url, args.schema, False, args.rows)
            print(f"loading {args.rows:,} events into schema {args.schema}", file=sys.stderr)
            loading = load(url, args.rows, args.seed)
        if args.copies > 1:
            print(f"copying the log to {args.copies} times its size", file=sys.stderr)
            first = max(1, held // args.rows)
            loading = {"base": loading, "copies": multiply(url, args.copies, first)}
    engine = create_engine_for(url)
    with engine.connect() as connection:
        total = connection.scalar(sa.select(sa.func.count()).select_from(audit_log))
        credential_keys = sample_keys(connection, credentials.c.credential_id, args.samples,
                                      args.seed)
        owner_keys = sample_keys(connection, credentials.c.user_id, args.samples, args.seed)
        by_credential = timed(connection, lambda key: TrailFilter(credential_id=key),
                              credential_keys)
        by_owner = timed(connection, lambda key: TrailFilter(user_id=key), owner_keys)
        address_keys = sample_keys(connection, audit_log.c.source_ip, args.samples, args.seed)
        by_address = timed_uses(connection, [key for key in address_keys if key])
        server = connection.scalar(sa.text("SHOW server_version"))
    engine.dispose()
    result = {
        "benchmark": "query_latency",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "audit_rows": total,
        "postgresql": server,
        "load": loading,
        "page_size": 100,
        "trail_by_credential": by_credential,
        "trail_by_owner": by_owner,
        "uses_by_source_ip": by_address,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"query_latency-{total}-{result['at'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"saved {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
