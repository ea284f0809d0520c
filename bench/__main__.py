"""Run the benchmarks and print a table: ``python -m bench [--events N] [--runs R]``.

Every figure is the median of R runs with min and max, measured on the real broker and
databases. Results are saved as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import consumer_rate, naive, producer_rate, projection_rate
from bench.figures import Figure
from bench.services import bootstrap_servers, fresh_postgres, fresh_sqlite
from bench.stream import prepare_topic

RESULTS = Path(__file__).parent / "results"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="stream size for rates")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument("--naive-events", type=int, default=5_000, help="events for the naive run")
    return parser.parse_args()


def _table(figures: list[Figure]) -> Table:
    table = Table(title="client-audit benchmarks", title_justify="left")
    for column in ("figure", "median", "min", "max", "unit"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for figure in figures:
        table.add_row(
            figure.name, f"{figure.median:,.1f}", f"{figure.low:,.1f}", f"{figure.high:,.1f}",
            figure.unit,
        )
    return table


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    arguments = _arguments()
    console = Console(stderr=True)
    bootstrap = bootstrap_servers()
    figures: list[Figure] = []
    console.log("producer")
    figures += producer_rate.measure(bootstrap, min(arguments.events, 100_000), arguments.runs)
    topic = prepare_topic(bootstrap, arguments.events)
    console.log("plain consumer")
    raw, decoded = consumer_rate.measure(topic, arguments.runs)
    figures += [raw, decoded]
    with tempfile.TemporaryDirectory() as scratch:
        console.log("projection into SQLite")
        sqlite = projection_rate.measure(
            topic, "SQLite", lambda: fresh_sqlite(Path(scratch)), arguments.runs
        )
        console.log("projection into PostgreSQL")
        postgres = projection_rate.measure(topic, "PostgreSQL", fresh_postgres, arguments.runs)
        console.log("naive design")
        with fresh_postgres() as url:
            baseline = naive.measure(topic, url, arguments.naive_events)
    figures += [sqlite, postgres, baseline]
    ratios = {
        "projection PostgreSQL / raw+decode": postgres.median / decoded.median,
        "projection SQLite / raw+decode": sqlite.median / decoded.median,
        "projection PostgreSQL / naive": postgres.median / baseline.median,
    }
    Console().print(_table(figures))
    for name, ratio in ratios.items():
        Console().print(f"{name}: {ratio:.2f}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = RESULTS / f"{stamp}.json"
    output.write_text(
        json.dumps(
            {"at": stamp, "figures": [f.as_dict() for f in figures], "ratios": ratios}, indent=2
        )
    )
    console.log(f"saved {output}")


if __name__ == "__main__":
    main()
