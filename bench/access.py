"""What the access log costs: ``python -m bench.access [--requests N] [--runs R]``.

On SQLite and PostgreSQL (fresh stores, migrated): the latency of one access-log append
(its own transaction, as the API makes it), appends per second from 16 threads at once (they
take turns on the chain head), an API request with and without its access-log entry (the
same app, the writer replaced by one that writes nothing) and with an environment token
against a stored one, and the verification rate of the chain. Prints a table and saves
bench/results/access-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from bench.figures import Figure
from bench.services import fresh_postgres, fresh_sqlite
from client_audit.api import create_app
from client_audit.api.throttle import FailedAuthThrottle
from projections.access.log import AccessLogWriter
from projections.access.tokens import TokenRecord, issue_token
from projections.chain.access_verify import verify_access_chain
from projections.db.engine import create_engine_for, write_transaction
from projections.db.migrate import upgrade
from projections.model.access import AccessEntry, Scope

RESULTS = Path(__file__).parent / "results"
ENV_TOKEN = "bench-environment-token-0123456789"
THREADS = 16


class NoAccessLog(AccessLogWriter):
    """The baseline: the same call, nothing written."""

    def append(self, entry: AccessEntry, token: TokenRecord | None = None) -> int:
        return 0


def _entry(n: int) -> AccessEntry:
    return AccessEntry(datetime.now(UTC), "bench", "GET", "/v1/trail", 200,
                       {"credentialId": f"cred-{n}", "limit": "100"}, 100, "127.0.0.1")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _timed(action: Callable[[int], object], count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        action(n)
        samples.append((time.perf_counter() - started) * 1_000_000)
    return samples


def measure(backend: str, url: str, requests: int) -> dict[str, float]:
    """One run's figures on one migrated store."""
    upgrade(url)
    engine = create_engine_for(url)
    try:
        writer = AccessLogWriter(engine)
        append = _timed(lambda n: writer.append(_entry(n)), requests)

        def appending(share: int) -> None:
            for n in range(share):
                writer.append(_entry(n))

        share = requests // THREADS
        threads = [threading.Thread(target=appending, args=(share,)) for _ in range(THREADS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent = share * THREADS / (time.perf_counter() - started)

        with write_transaction(engine) as connection:
            stored = issue_token(connection, "bench", {Scope.READ_CREDENTIALS},
                                 datetime.now(UTC)).token
        app = create_app(engine, [ENV_TOKEN], throttle=FailedAuthThrottle(limit=10**9))
        with TestClient(app) as client:

            def get(token: str) -> Callable[[int], object]:
                headers = {"Authorization": f"Bearer {token}"}
                return lambda _n: client.get("/v1/credentials?limit=1", headers=headers)

            recorded = _timed(get(ENV_TOKEN), requests)
            stored_token = _timed(get(stored), requests)
            app.state.access_log = NoAccessLog(engine)
            unrecorded = _timed(get(ENV_TOKEN), requests)
        with engine.connect() as connection:
            started = time.perf_counter()
            verdict = verify_access_chain(connection)
            verify_rate = verdict.rows / (time.perf_counter() - started)
        assert verdict.first_break is None
    finally:
        engine.dispose()
    append_p50, append_p99 = _percentiles(append)
    recorded_p50, recorded_p99 = _percentiles(recorded)
    unrecorded_p50, unrecorded_p99 = _percentiles(unrecorded)
    stored_p50, _ = _percentiles(stored_token)
    return {
        "append p50": append_p50, "append p99": append_p99,
        f"appends/s, {THREADS} threads": concurrent,
        "request p50, recorded": recorded_p50, "request p99, recorded": recorded_p99,
        "request p50, not recorded": unrecorded_p50,
        "request p99, not recorded": unrecorded_p99,
        "request p50, stored token": stored_p50,
        "chain verification": verify_rate,
    }


UNITS = {"appends/s": "appends/s", "verification": "rows/s"}


def access_figures(requests: int, runs: int) -> list[Figure]:
    figures: dict[str, Figure] = {}
    with tempfile.TemporaryDirectory() as scratch:
        def sqlite() -> AbstractContextManager[str]:
            return fresh_sqlite(Path(scratch))

        stores: dict[str, Callable[[], AbstractContextManager[str]]] = {
            "SQLite": sqlite, "PostgreSQL": fresh_postgres,
        }
        for backend, fresh in stores.items():
            for _ in range(runs):
                with fresh() as url:
                    for name, value in measure(backend, url, requests).items():
                        unit = next((u for key, u in UNITS.items() if key in name), "µs")
                        label = f"access log, {backend}: {name}"
                        figures.setdefault(label, Figure(label, unit)).samples.append(value)
    return list(figures.values())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.access", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="appends and requests")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    arguments = parser.parse_args()
    figures = access_figures(arguments.requests, arguments.runs)
    table = Table(title="access log", title_justify="left")
    for column in ("figure", "median", "min", "max", "unit"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for figure in figures:
        table.add_row(figure.name, f"{figure.median:,.0f}", f"{figure.low:,.0f}",
                      f"{figure.high:,.0f}", figure.unit)
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = RESULTS / f"access-{stamp}.json"
    output.write_text(json.dumps({
        "at": stamp, "requests": arguments.requests, "runs": arguments.runs,
        "figures": [figure.as_dict() for figure in figures],
    }, indent=2))
    Console(stderr=True).log(f"saved {output}")


if __name__ == "__main__":
    main()
