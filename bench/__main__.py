"""Run the benchmarks and print a table: ``python -m bench [--events N] [--runs R]``
(``--only-latency`` for the query and HTTP latencies alone).

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

from bench import consumer_rate, naive, producer_rate, projection_rate, replay, workers_rate
from bench.figures import Figure
from bench.large import console_latency_figures, query_latency_figures
from bench.projection_rate import FreshStore
from bench.services import bootstrap_servers, fresh_postgres, fresh_sqlite
from bench.stream import prepare_topic

RESULTS = Path(__file__).parent / "results"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="stream size for rates")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument("--naive-events", type=int, default=5_000, help="events for the naive run")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes for the multi-process projection (0 skips)",
    )
    parser.add_argument(
        "--replay-events",
        type=int,
        default=1_000_000,
        help="stream replayed into fresh stores (0 skips)",
    )
    parser.add_argument(
        "--query-rows",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="audit log sizes for query latency (none skips)",
    )
    parser.add_argument(
        "--console-rows",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="audit log sizes for console and API latency through HTTP (none skips)",
    )
    parser.add_argument(
        "--only-latency",
        action="store_true",
        help="measure only the query and HTTP latencies (no Kafka figures)",
    )
    return parser.parse_args()


def _table(figures: list[Figure]) -> Table:
    table = Table(title="client-audit benchmarks", title_justify="left")
    for column in ("figure", "median", "min", "max", "unit"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for figure in figures:
        table.add_row(
            figure.name,
            f"{figure.median:,.1f}",
            f"{figure.low:,.1f}",
            f"{figure.high:,.1f}",
            figure.unit,
        )
    return table


def _replay_figure(
    bootstrap: str, topic: str, backend: str, fresh: FreshStore, runs: int, label: str
) -> Figure:
    """Replays of ``topic`` into ``runs`` fresh stores of one backend."""
    measured = []
    for _ in range(runs):
        with fresh() as url:
            measured.append(replay.measure(backend.lower(), bootstrap, topic, url, 5000))
    return Figure(
        f"replay into {backend} ({label})",
        "events/s",
        [run["eventsPerSecond"] for run in measured],
        detail={"events": measured[0]["events"], "runs": measured},
    )


def _pipeline_figures(
    arguments: argparse.Namespace, console: Console
) -> tuple[list[Figure], dict[str, float]]:
    """The Kafka, projection and replay figures, and the ratios between them."""
    bootstrap = bootstrap_servers()
    figures: list[Figure] = []
    console.log("producer")
    figures += producer_rate.measure(bootstrap, min(arguments.events, 100_000), arguments.runs)
    topic = prepare_topic(bootstrap, arguments.events)
    console.log("plain consumer")
    raw, decoded = consumer_rate.measure(topic, arguments.runs)
    figures += [raw, decoded]
    with tempfile.TemporaryDirectory() as scratch:
        stores: dict[str, FreshStore] = {
            "SQLite": lambda: fresh_sqlite(Path(scratch)),
            "PostgreSQL": fresh_postgres,
        }
        console.log("projection into SQLite")
        sqlite = projection_rate.measure(topic, "SQLite", stores["SQLite"], arguments.runs)
        console.log("projection into PostgreSQL")
        postgres = projection_rate.measure(
            topic, "PostgreSQL", stores["PostgreSQL"], arguments.runs
        )
        console.log("naive design")
        with fresh_postgres() as url:
            baseline = naive.measure(topic, url, arguments.naive_events)
        figures += [sqlite, postgres, baseline]
        ratios = {
            "projection PostgreSQL / raw+decode (target >= 0.60)": postgres.median / decoded.median,
            "projection SQLite / raw+decode": sqlite.median / decoded.median,
            "projection PostgreSQL / naive (target >= 20)": postgres.median / baseline.median,
        }
        if arguments.workers > 1:
            console.log(f"projection by {arguments.workers} worker processes")
            workers = workers_rate.measure(topic, fresh_postgres, arguments.workers, arguments.runs)
            figures.append(workers)
            ratios[f"projection PostgreSQL, {arguments.workers} workers / raw+decode"] = (
                workers.median / decoded.median
            )
        console.log("replay of the same stream")
        for backend, projected in (("SQLite", sqlite), ("PostgreSQL", postgres)):
            same = _replay_figure(
                bootstrap, topic.lifecycle, backend, stores[backend], arguments.runs, "same stream"
            )
            figures.append(same)
            ratios[f"replay {backend} / projection {backend}, same stream (target >= 1)"] = (
                same.median / projected.median
            )
        if arguments.replay_events:
            events = arguments.replay_events
            console.log(f"replay of {events:,} events")
            large = f"bench.replay.n{events}"
            replay.publish_once(bootstrap, large, events * 115 // 1000, events)
            for backend, fresh in stores.items():
                label = f"{events:,}-event stream, one run"
                figures.append(_replay_figure(bootstrap, large, backend, fresh, 1, label))
    return figures, ratios


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    arguments = _arguments()
    console = Console(stderr=True)
    figures: list[Figure] = []
    ratios: dict[str, float] = {}
    if not arguments.only_latency:
        figures, ratios = _pipeline_figures(arguments, console)
    for rows in arguments.query_rows:
        console.log(f"query latency over {rows:,} audit rows")
        figures += query_latency_figures(rows)
    for rows in arguments.console_rows:
        console.log(f"console and API latency through HTTP over {rows:,} audit rows")
        figures += console_latency_figures(rows)
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
