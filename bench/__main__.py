"""Run the benchmarks and print a table: ``python -m bench [--events N] [--runs R]``
(``--only-latency`` for the query, HTTP and proof latencies alone; ``--only replay`` for
raw consume, raw + decode, live projection and bulk replay on one stream, their ratios,
the replays' peak memory and a --replay-events bulk replay).

Every figure is the median of R runs with min and max, measured on the real broker and
databases. Results are saved as JSON under bench/results/. Besides the rates: projection
into PostgreSQL with checkpoint signing off and on (--signing-runs, alternated), and the
time and size of Merkle proofs over logs of --proof-entries entries (built once in their
own schema and reused; bench/merkle_proofs.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import (
    bulk_replay,
    consumer_rate,
    cpu_use,
    merkle_proofs,
    naive,
    producer_rate,
    projection_rate,
    replay,
    workers_rate,
)
from bench.figures import Figure
from bench.large import console_latency_figures, query_latency_figures
from bench.projection_rate import FreshStore
from bench.services import bootstrap_servers, fresh_postgres, fresh_sqlite
from bench.stream import BenchTopic, prepare_topic

RESULTS = Path(__file__).parent / "results"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="stream size for rates")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument(
        "--naive-events", type=int, default=5_000, help="events for the naive run (0 skips)"
    )
    parser.add_argument(
        "--signing-runs",
        type=int,
        default=3,
        help="runs each of the PostgreSQL projection with checkpoint signing off and on, "
        "alternated (0 skips)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes for the multi-process projection, also in --only replay's rounds "
        "(0 or 1 skips)",
    )
    parser.add_argument(
        "--replay-events",
        type=int,
        default=1_000_000,
        help="stream replayed into fresh stores (0 skips)",
    )
    parser.add_argument(
        "--replay-workers",
        type=int,
        default=2,
        help="with --only replay: also bulk-replay into SQLite and PostgreSQL by this many "
        "worker processes (1 skips)",
    )
    parser.add_argument(
        "--large-replay-into",
        nargs="*",
        choices=["SQLite", "PostgreSQL"],
        default=["PostgreSQL"],
        help="stores the --replay-events bulk replay goes into, with --only replay",
    )
    parser.add_argument(
        "--query-rows",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="audit log sizes for query latency (none skips)",
    )
    parser.add_argument(
        "--proof-entries",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="Merkle log sizes in PostgreSQL for proof time and size (none skips)",
    )
    parser.add_argument(
        "--proof-sqlite-entries",
        type=int,
        nargs="*",
        default=[1_000_000],
        help="Merkle log sizes in SQLite for proof time (none skips)",
    )
    parser.add_argument(
        "--proof-samples", type=int, default=200, help="proofs of each kind per log size"
    )
    parser.add_argument(
        "--console-rows",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="audit log sizes for console and API latency through HTTP (none skips)",
    )
    parser.add_argument(
        "--only",
        choices=["replay"],
        help="replay: only the consumer, live projection and bulk replay figures",
    )
    parser.add_argument(
        "--only-latency",
        action="store_true",
        help="measure only the query, HTTP and proof latencies (no Kafka figures)",
    )
    return parser.parse_args()


def _table(figures: list[Figure]) -> Table:
    table = Table(title="client-audit benchmarks", title_justify="left")
    for column in ("figure", "median", "min", "max", "unit"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for figure in figures:
        table.add_row(
            figure.name,
            _number(figure.median),
            _number(figure.low),
            _number(figure.high),
            figure.unit,
        )
    return table


def _number(value: float) -> str:
    """One decimal; two below 10 (milliseconds of proofs and queries)."""
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


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


def _signing_figures(
    arguments: argparse.Namespace,
    topic: BenchTopic,
    fresh: FreshStore,
    console: Console,
    ratios: dict[str, float],
) -> list[Figure]:
    """Projection into PostgreSQL with checkpoint signing off and on, alternated."""
    if not arguments.signing_runs:
        return []
    console.log(
        f"projection into PostgreSQL, checkpoint signing off / on, "
        f"{arguments.signing_runs} runs each"
    )
    off, on, slower = projection_rate.measure_signing(topic, fresh, arguments.signing_runs)
    name = "projection PostgreSQL, signing on vs off: % slower, of medians (target < 5)"
    ratios[name] = projection_rate.signing_cost(off, on)
    share = statistics.median(on.detail["checkpointer_percent_of_wall_time"])
    ratios["projection PostgreSQL, signing on: % of wall time in the checkpointer"] = share
    return [off, on, slower]


def _naive_figures(
    arguments: argparse.Namespace,
    topic: BenchTopic,
    postgres: Figure,
    console: Console,
    ratios: dict[str, float],
) -> list[Figure]:
    """The naive design (one ORM insert and commit per event), against the projection."""
    if not arguments.naive_events:
        return []
    console.log("naive design")
    with fresh_postgres() as url:
        baseline = naive.measure(topic, url, arguments.naive_events)
    ratios["projection PostgreSQL / naive (target >= 20)"] = postgres.median / baseline.median
    return [baseline]


def _proof_figures(
    arguments: argparse.Namespace, console: Console, ratios: dict[str, float]
) -> list[Figure]:
    """Proof time and size over Merkle logs of the sizes asked for (built or reused)."""
    stores = [merkle_proofs.postgres_store(n) for n in arguments.proof_entries if n]
    stores += [merkle_proofs.sqlite_store(n) for n in arguments.proof_sqlite_entries if n]
    found: list[Figure] = []
    sized: set[int] = set()
    for store in stores:
        console.log(f"Merkle proofs over {store.label}")
        measured = merkle_proofs.figures(
            store, arguments.proof_samples, sizes=store.entries not in sized, console=console
        )
        found += measured
        if store.entries not in sized:
            sized.add(store.entries)
            by_unit = {figure.unit: figure for figure in measured if "size" in figure.name}
            ratios[f"inclusion proof, {store.entries:,} entries: largest auditPath, JSON bytes "
                   "(target < 2048 at 10,000,000)"] = by_unit["bytes JSON"].high
        inclusion = next(figure for figure in measured if figure.name.startswith("inclusion"))
        ratios[f"{inclusion.name}: median ms (target < 50 at 10,000,000)"] = inclusion.median
    return found


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
        figures += [sqlite, postgres]
        ratios = {
            "projection PostgreSQL / raw+decode (target >= 0.60)": postgres.median / decoded.median,
            "projection SQLite / raw+decode": sqlite.median / decoded.median,
        }
        figures += _signing_figures(arguments, topic, stores["PostgreSQL"], console, ratios)
        figures += _naive_figures(arguments, topic, postgres, console, ratios)
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


def _collect(collected: dict[str, Figure], *measured: Figure) -> None:
    """Add each measured figure's samples (and runs) to the collected figure of its name."""
    for figure in measured:
        kept = collected.setdefault(figure.name, figure)
        if kept is not figure:
            kept.samples += figure.samples
            if "runs" in figure.detail:
                kept.detail["runs"] += figure.detail["runs"]


def _cpu_figures(measured: Iterable[Figure]) -> list[Figure]:
    """Median CPU per event, by where it went, of every figure whose runs were metered
    (:mod:`bench.cpu_use`)."""
    found = []
    for figure in measured:
        splits = [run["cpuMicrosPerEvent"] for run in figure.detail.get("runs", [])
                  if run.get("cpuMicrosPerEvent")]
        for part in ("total", *cpu_use.PARTS):
            samples = [split[part] for split in splits if split.get(part) is not None]
            if samples:
                found.append(Figure(f"CPU per event, {figure.name}: {part}", "µs/event",
                                    samples, higher_is_better=False))
    return found


def _bulk_figures(
    arguments: argparse.Namespace, console: Console
) -> tuple[list[Figure], dict[str, float]]:
    """Raw consume, raw + decode, live projection and bulk replay of one stream (SQLite and
    PostgreSQL), the ratios between them, and a --replay-events bulk replay. Each of the
    ``--runs`` rounds measures every figure once, in turn, so that the machine's drift
    reaches the numerator and the denominator of each ratio alike."""
    bootstrap = bootstrap_servers()
    topic = prepare_topic(bootstrap, arguments.events)
    collected: dict[str, Figure] = {}
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        stores: dict[str, FreshStore] = {
            "SQLite": lambda: fresh_sqlite(Path(scratch)),
            "PostgreSQL": fresh_postgres,
        }
        label = f"{topic.events:,} events"
        for round_ in range(1, arguments.runs + 1):
            console.log(f"round {round_} of {arguments.runs}: plain consumer")
            _collect(collected, *consumer_rate.measure(topic, 1))
            for backend, fresh in stores.items():
                console.log(f"round {round_}: live projection, bulk replay into {backend}")
                _collect(collected, projection_rate.measure(topic, backend, fresh, 1))
                _collect(collected, *bulk_replay.measure(
                    bootstrap, topic.lifecycle, backend, fresh, 1, label
                ))
                if arguments.replay_workers > 1:
                    _collect(collected, *bulk_replay.measure(
                        bootstrap, topic.lifecycle, backend, fresh, 1, label,
                        workers=arguments.replay_workers,
                    ))
            if arguments.workers > 1:
                console.log(f"round {round_}: live projection by {arguments.workers} processes")
                _collect(collected, workers_rate.measure(
                    topic, stores["PostgreSQL"], arguments.workers, 1
                ))
        figures = list(collected.values()) + _cpu_figures(collected.values())
        decoded = collected["consume raw + Avro decode"]
        for backend in stores:
            live = collected[f"projection into {backend}"]
            for name, figure in collected.items():
                if name.startswith("bulk replay") and name.endswith(f"into {backend} ({label})"):
                    ratios[f"{name} / live projection {backend} (target >= 2)"] = (
                        figure.median / live.median
                    )
            ratios[f"live projection {backend} / raw+decode (target >= 0.40, goal 0.60)"] = (
                live.median / decoded.median
            )
        if arguments.workers > 1:
            several = collected[workers_rate.figure_name(arguments.workers)]
            ratios[f"live projection PostgreSQL, {arguments.workers} processes / raw+decode"] = (
                several.median / decoded.median
            )
            for name, figure in collected.items():
                if name.startswith("bulk replay, ") and name.endswith(f"PostgreSQL ({label})"):
                    ratios[f"{name} / live projection by {arguments.workers} processes"] = (
                        figure.median / several.median
                    )
        if arguments.replay_events:
            events = arguments.replay_events
            large = f"bench.replay.n{events}"
            console.log(f"publishing (once) and bulk-replaying {events:,} events")
            replay.publish_once(bootstrap, large, events * 115 // 1000, events)
            for backend in arguments.large_replay_into:
                for workers in sorted({1, arguments.replay_workers}):
                    rate, memory = bulk_replay.measure(
                        bootstrap, large, backend, stores[backend], 1,
                        f"{events:,}-event stream", workers=workers,
                    )
                    figures += [rate, memory]
                    ratios[f"{rate.name}: seconds (target < 120 into PostgreSQL)"] = (
                        rate.detail["runs"][0]["seconds"]
                    )
    return figures, ratios


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    arguments = _arguments()
    console = Console(stderr=True)
    figures: list[Figure] = []
    ratios: dict[str, float] = {}
    if arguments.only == "replay":
        figures, ratios = _bulk_figures(arguments, console)
        arguments.query_rows = arguments.console_rows = []
        arguments.proof_entries = arguments.proof_sqlite_entries = []
    elif not arguments.only_latency:
        figures, ratios = _pipeline_figures(arguments, console)
    for rows in arguments.query_rows:
        console.log(f"query latency over {rows:,} audit rows")
        figures += query_latency_figures(rows)
    for rows in arguments.console_rows:
        console.log(f"console and API latency through HTTP over {rows:,} audit rows")
        figures += console_latency_figures(rows)
    figures += _proof_figures(arguments, console, ratios)
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
