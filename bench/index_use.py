"""Which ``audit_log`` indexes the query routes use on PostgreSQL:
``python -m bench.index_use [--events N]``.

Bulk-replays the bench stream (``--events``, 200,000 by default) into a fresh schema,
analyses it, runs every audit question the API, the console and the command line ask
(trail, anomalies, uses, anomaly counts, timeline, search qualifiers) with values taken
from the data, captures the statements each sends and prints the indexes their
``EXPLAIN`` plans use, then the indexes no route uses (the write path's own ones among
them: the unique constraints and the (credential, sequence) index the late-event lookups
read). Saved as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.services import bootstrap_servers, fresh_postgres
from bench.stream import prepare_topic
from consumer.replay import Replay, plan_replay
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.queries.filters import AnomalyFilter, TrailFilter, UsesFilter
from projections.queries.pagination import AuditPageRequest
from projections.queries.search.parser import parse_search
from projections.queries.search.run import search, search_page_request

Route = Callable[[sa.Connection], object]

RESULTS = Path(__file__).parent / "results"


def _module(name: str) -> Any:
    """A query module (the package exports functions of the same names)."""
    return importlib.import_module(f"projections.queries.{name}")


def sample_values(connection: sa.Connection) -> dict[str, Any]:
    """Ids, an address and a one-day-ish window taken from the loaded log."""
    row = connection.execute(sa.text(
        "SELECT credential_id, user_id, actor_id, client_id, correlation_id FROM audit_log "
        "ORDER BY position OFFSET (SELECT count(*) / 40 FROM audit_log) LIMIT 1"
    )).one()
    address = connection.execute(sa.text(
        "SELECT source_ip FROM audit_log WHERE source_ip LIKE '%.%' ORDER BY position LIMIT 1"
    )).scalar_one()
    first, last = connection.execute(
        sa.text("SELECT min(occurred_at), max(occurred_at) FROM audit_log")
    ).one()
    middle = first + (last - first) / 2
    return {
        "credential": row[0], "user": row[1], "actor": row[2], "client": row[3],
        "correlation": row[4], "address": address,
        "network": ".".join(str(address).split(".")[:2]) + ".0.0/16",
        "window": {"from": middle.isoformat(), "to": (middle + (last - first) / 30).isoformat()},
    }


def routes(values: Mapping[str, Any]) -> dict[str, Route]:
    """Every audit question, by a short name."""
    trail, anomalies, uses = _module("trail"), _module("anomalies"), _module("uses")
    counts, timeline = _module("anomaly_counts"), _module("timeline")
    page = AuditPageRequest(limit=50)
    newest = AuditPageRequest.model_validate({"limit": 50, "newestFirst": True})
    window = values["window"]
    trail_of, flagged_of, uses_of = (
        TrailFilter.model_validate, AnomalyFilter.model_validate, UsesFilter.model_validate
    )
    credential = {"credentialId": values["credential"]}
    found: dict[str, Route] = {
        "trail credentialId": lambda c: trail.audit_trail(c, trail_of(credential), page),
        "trail userId": lambda c: trail.audit_trail(
            c, trail_of({"userId": values["user"]}), page),
        "trail actorId": lambda c: trail.audit_trail(
            c, trail_of({"actorId": values["actor"]}), page),
        "trail eventType=DELETED": lambda c: trail.audit_trail(
            c, trail_of({"eventType": ["DELETED"]}), page),
        "trail eventType=DELETED, window": lambda c: trail.audit_trail(
            c, trail_of({"eventType": ["DELETED"], **window}), page),
        "trail window": lambda c: trail.audit_trail(c, trail_of(window), page),
        "anomalies": lambda c: anomalies.anomalies(c, flagged_of({}), page),
        "anomalies newest first": lambda c: anomalies.anomalies(c, flagged_of({}), newest),
        "anomalies window": lambda c: anomalies.anomalies(c, flagged_of(window), page),
        "anomalies credentialId": lambda c: anomalies.anomalies(
            c, flagged_of(credential), page),
        "anomaly counts by day": lambda c: counts.anomaly_days(c, counts.default_window(c)),
        "most flagged credentials": lambda c: counts.most_flagged(c, counts.default_window(c)),
        "uses from an address": lambda c: uses.uses(
            c, uses_of({"network": values["address"]}), page),
        "uses from a /16": lambda c: uses.uses(c, uses_of({"network": values["network"]}), page),
        "uses credentialId": lambda c: uses.uses(c, uses_of(credential), page),
        "uses denied": lambda c: uses.uses(c, uses_of({"outcome": "DENIED"}), page),
        "uses window": lambda c: uses.uses(c, uses_of(window), page),
        "credential timeline": lambda c: timeline.credential_timeline(c, values["credential"]),
    }
    for text in (
        f"credential:{values['credential']}", f"user:{values['user']}",
        f"client:{values['client']}", f"actor:{values['actor']}",
        f"correlation:{values['correlation']}", f"ip:{values['address']}", "type:DELETED",
        "anomaly:any", "outcome:DENIED", "role:kms.decrypter",
        f"after:{window['from']} before:{window['to']}",
    ):
        name = f"search {text.split(':')[0]}:…"
        found[name] = _searching(text)
    return found


def _searching(text: str) -> Route:
    def run(connection: sa.Connection) -> object:
        query = parse_search(text)
        return search(connection, query, search_page_request(query, 50))

    return run


def _index_names(plan: Mapping[str, Any], found: set[str]) -> None:
    if "Index Name" in plan:
        found.add(str(plan["Index Name"]))
    for child in plan.get("Plans", []):
        _index_names(child, found)


def indexes_used(engine: sa.Engine, route: Route) -> list[str]:
    """The indexes in the plans of the statements on audit_log that ``route`` sends."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "audit_log" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    with engine.connect() as connection:
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            route(connection)
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
        found: set[str] = set()
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}",
                                              parameters).scalar_one()
            _index_names(plan[0]["Plan"], found)
    return sorted(found)


def survey(events: int) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    topic = prepare_topic(bootstrap, events)
    with fresh_postgres() as url:
        upgrade(url)
        Replay(plan_replay(bootstrap, topic.lifecycle), bootstrap, url, bulk=True,
               workers=None).run()
        engine = create_engine_for(url)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
                values = sample_values(connection)
                every = sorted(connection.execute(sa.text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log' "
                    "AND schemaname = current_schema()"
                )).scalars())
            used = {name: indexes_used(engine, route) for name, route in routes(values).items()}
        finally:
            engine.dispose()
    served = {index for names in used.values() for index in names}
    return {"events": events, "routes": used,
            "unused": [index for index in every if index not in served]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.index_use", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events loaded")
    arguments = parser.parse_args()
    found = survey(arguments.events)
    table = Table("route", "audit_log indexes in its plans", title="index use (PostgreSQL)")
    for name, indexes in found["routes"].items():
        table.add_row(name, ", ".join(indexes))
    console = Console()
    console.print(table)
    console.print(f"used by no route: {', '.join(found['unused'])}")
    RESULTS.mkdir(exist_ok=True)
    saved = RESULTS / f"index-use-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
