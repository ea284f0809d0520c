"""Proof time and size on large Merkle logs (1,000,000 and 10,000,000 entries).

Builds one partition's Merkle log of ``N`` entries directly in a store, without Kafka and
without audit rows: synthetic leaves (entry ``i``'s leaf hash is ``leaf_hash(i as 8 bytes)``)
are appended to a :class:`projections.chain.merkle.Frontier` and written with the store's
own code, in transactions of 250,000 leaves: the head locked with
:func:`~projections.chain.heads.locked_heads` (which creates the ``merkle_logs`` row), the
completed nodes streamed with :func:`~projections.chain.nodes.node_appender` (one COPY per
transaction on PostgreSQL), the head's size and frontier moved with
:func:`~projections.chain.heads.store_heads`. The chain fields of the head are placeholders
(there are no audit rows).

On PostgreSQL each log is kept in a schema of its own of the service database
(``client_audit_bench_merkle_<N>``), on SQLite in ``bench/cache/merkle-<N>.db``: a later
run reuses a log that already holds ``N`` entries, and resumes one whose build was
interrupted (each transaction records its leaves and seconds in ``bench_merkle_builds``, so
the build time reported is the sum, however many runs it took).

Then, for ``--samples`` random positions, times (after a short warm-up)

- :func:`projections.chain.nodes.inclusion_proof` of entry ``i`` in the tree of ``N``,
- :func:`~projections.chain.nodes.consistency_proof` from a random size ``m`` to ``N``,
- :func:`~projections.chain.nodes.root_at` of ``m``,

and verifies every one: the inclusion proof with :func:`~projections.chain.merkle.verify_inclusion`
against the root of the stored head, the consistency proof with
:func:`~projections.chain.merkle.verify_consistency` from ``root_at(m)`` to that root (and
``root_at(m)`` itself by the inclusion proof of entry ``m - 1`` in the tree of ``m``). The
size of an inclusion proof is its number of hashes, their raw bytes, and the bytes of the
``"auditPath"`` member of the JSON document as ``client-audit evidence prove`` writes it
(indent 2; hex strings).

    .venv/bin/python -m bench.merkle_proofs --entries 1000000 10000000 [--sqlite 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.figures import Figure
from bench.query_latency import schema_url
from bench.services import service_database
from projections.chain import nodes
from projections.chain.hashing import GENESIS_HASH
from projections.chain.heads import ChainHead, all_heads, locked_heads, store_heads
from projections.chain.merkle import leaf_hash, verify_consistency, verify_inclusion
from projections.db.engine import create_engine_for, write_transaction
from projections.db.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / "cache"
TOPIC = "bench.merkle"
KEY = (TOPIC, 0)
CHUNK = 250_000
"""Leaves per transaction."""
TICK = 16_384
"""Leaves between progress updates."""
WARM_UP = 10

_bench = sa.MetaData()
builds = sa.Table(
    "bench_merkle_builds",
    _bench,
    sa.Column("build_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("first", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
)
"""One row per build step of the bench's log: each transaction appending leaves
[first, size) (step "append"), then the VACUUM ANALYZE / ANALYZE that follows ("settle")."""


def leaf(index: int) -> bytes:
    """The synthetic leaf hash of entry ``index``."""
    return leaf_hash(index.to_bytes(8, "big"))


@dataclass(frozen=True)
class Store:
    backend: str
    """Either "PostgreSQL" or "SQLite"."""
    url: str
    entries: int

    @property
    def label(self) -> str:
        return f"{self.entries:,} entries, {self.backend}"


def postgres_store(entries: int, base: str | None = None) -> Store:
    schema = f"client_audit_bench_merkle_{entries}"
    return Store("PostgreSQL", schema_url(base or service_database(), schema), entries)


def sqlite_store(entries: int, folder: Path = CACHE) -> Store:
    return Store("SQLite", f"sqlite:///{folder / f'merkle-{entries}.db'}", entries)


def _sqlite_path(store: Store) -> Path:
    return Path(sa.engine.make_url(store.url).database or "")


def _schema(store: Store) -> str:
    return str(sa.engine.make_url(store.url).query["options"]).split("=", 1)[1]


@contextmanager
def _engine(store: Store) -> Iterator[sa.Engine]:
    engine = create_engine_for(store.url)
    try:
        yield engine
    finally:
        engine.dispose()


def held_entries(store: Store) -> int:
    """Entries the store's log already holds (0 when there is no log, or no store)."""
    if store.backend == "SQLite" and not _sqlite_path(store).exists():
        return 0
    with _engine(store) as engine, engine.connect() as connection:
        if not sa.inspect(connection).has_table("audit_chain_heads"):
            return 0
        head = all_heads(connection).get(KEY)
        return 0 if head is None else head.length


def _in_base(store: Store, statement: str) -> None:
    """Run ``statement`` in the PostgreSQL database of the store, outside its schema."""
    base = sa.engine.make_url(store.url).difference_update_query(["options"])
    engine = create_engine_for(base.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def _discard(store: Store) -> None:
    """Remove the store's log (the whole schema or file) to build it again."""
    if store.backend == "SQLite":
        path = _sqlite_path(store)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        _in_base(store, f'DROP SCHEMA IF EXISTS "{_schema(store)}" CASCADE')


def _create(store: Store) -> None:
    if store.backend == "SQLite":
        _sqlite_path(store).parent.mkdir(parents=True, exist_ok=True)
    else:
        _in_base(store, f'CREATE SCHEMA IF NOT EXISTS "{_schema(store)}"')
    upgrade(store.url)
    with _engine(store) as engine:
        _bench.create_all(engine)


def _extend(engine: sa.Engine, size: int, progress: Progress, task: TaskID) -> int:
    """Append leaves up to ``size`` (at most CHUNK) in one transaction; the new size."""
    with write_transaction(engine) as connection:
        head = locked_heads(connection, {KEY})[KEY]
        frontier = head.merkle_frontier()
        first = frontier.size
        stop = min(size, first + CHUNK)
        started = time.perf_counter()
        with nodes.node_appender(connection) as writer:
            for index in range(first, stop):
                writer.write(head.log_id, frontier.append(leaf(index)))
                if index % TICK == TICK - 1:
                    progress.update(task, completed=index + 1)
        moved = ChainHead(stop - 1, GENESIS_HASH, frontier.size, tuple(frontier.hashes),
                          head.log_id)
        store_heads(connection, {KEY: moved})
        seconds = time.perf_counter() - started
        _record(connection, first, stop, seconds, "append")
    progress.update(task, completed=stop)
    return stop


def _record(connection: sa.Connection, first: int, size: int, seconds: float, step: str) -> None:
    connection.execute(builds.insert().values(
        first=first, size=size, seconds=seconds, step=step,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    ))


def _settle(engine: sa.Engine, store: Store) -> None:
    """VACUUM ANALYZE (PostgreSQL: hint bits and visibility map set, as autovacuum leaves a
    long-lived table) or ANALYZE (SQLite) the freshly written nodes."""
    started = time.perf_counter()
    if store.backend == "SQLite":
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    else:
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(sa.text("VACUUM ANALYZE merkle_nodes"))
            autocommit.execute(sa.text("ANALYZE merkle_logs"))
            autocommit.execute(sa.text("ANALYZE audit_chain_heads"))
    with engine.begin() as connection:
        _record(connection, store.entries, store.entries, time.perf_counter() - started,
                "settle")


def build(store: Store, reuse: bool = True, console: Console | None = None) -> bool:
    """Make the store's log hold exactly ``store.entries`` entries; True if it wrote any."""
    held = held_entries(store)
    if held == store.entries and reuse:
        return False
    if held > store.entries or (held and not reuse):
        _discard(store)
        held = 0
    _create(store)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("leaves"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
    )
    with (
        _engine(store) as engine,
        Progress(*columns, console=console or Console(stderr=True)) as progress,
    ):
        verb = "resume" if held else "build"
        task = progress.add_task(
            f"{verb} {store.entries:,} {store.backend}", total=store.entries, completed=held
        )
        while held < store.entries:
            held = _extend(engine, store.entries, progress, task)
        progress.update(task, description=f"settle {store.entries:,} {store.backend}")
        _settle(engine, store)
    return True


@dataclass(frozen=True)
class BuildTime:
    append_seconds: float
    """Appending every leaf (the store's code), summed over its transactions."""
    transactions: int
    settle_seconds: float
    """The VACUUM ANALYZE (ANALYZE on SQLite) after it."""


def build_time(store: Store) -> BuildTime:
    """How long the build of the store's log took, however many runs it took."""
    with _engine(store) as engine, engine.connect() as connection:
        found = {
            step: (float(total or 0.0), int(count))
            for step, total, count in connection.execute(
                sa.select(builds.c.step, sa.func.sum(builds.c.seconds), sa.func.count())
                .group_by(builds.c.step)
            )
        }
    append = found.get("append", (0.0, 0))
    return BuildTime(append[0], append[1], found.get("settle", (0.0, 0))[0])


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _summary(durations: Sequence[float]) -> dict[str, float]:
    ordered = sorted(durations)
    return {
        "median_ms": statistics.median(ordered),
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def audit_path_json_bytes(path: Sequence[bytes]) -> int:
    """Bytes of the ``"auditPath": [...]`` member as ``evidence prove`` writes its document
    (``json.dumps(document, indent=2, sort_keys=True)``: a member of the top-level object)."""
    member = json.dumps({"auditPath": [each.hex() for each in path]}, indent=2)
    return len(member.encode()) - len("{\n") - len("\n}")


def measure(store: Store, samples: int, seed: int = 7) -> dict[str, Any]:
    """Time and verify ``samples`` inclusion proofs, consistency proofs and roots."""
    size = store.entries
    rng = random.Random(seed)
    indexes = [rng.randrange(size) for _ in range(samples + WARM_UP)]
    firsts = [rng.randrange(1, size) for _ in range(samples + WARM_UP)]
    inclusion: list[float] = []
    consistency: list[float] = []
    roots: list[float] = []
    lengths: list[int] = []
    raw: list[int] = []
    as_json: list[int] = []
    compact: list[int] = []
    verify_inclusion_ms: list[float] = []
    with _engine(store) as engine, engine.connect() as connection:
        head = all_heads(connection)[KEY]
        if head.length != size:
            raise RuntimeError(f"the log holds {head.length} entries, not {size}")
        root, log_id = head.root, head.log_id
        if nodes.root_at(connection, log_id, size) != root:
            raise RuntimeError("the stored nodes do not give the head's root")
        for turn, index in enumerate(indexes):
            started = time.perf_counter()
            path = nodes.inclusion_proof(connection, log_id, index, size)
            took = _ms(started)
            started = time.perf_counter()
            if not verify_inclusion(index, size, leaf(index), path, root):
                raise RuntimeError(f"the inclusion proof of entry {index} does not verify")
            checked = _ms(started)
            if turn < WARM_UP:
                continue
            inclusion.append(took)
            verify_inclusion_ms.append(checked)
            lengths.append(len(path))
            raw.append(sum(len(each) for each in path))
            as_json.append(audit_path_json_bytes(path))
            compact.append(len(json.dumps([each.hex() for each in path]).encode()))
        for turn, first in enumerate(firsts):
            started = time.perf_counter()
            proof = nodes.consistency_proof(connection, log_id, first, size)
            took = _ms(started)
            started = time.perf_counter()
            first_root = nodes.root_at(connection, log_id, first)
            rooted = _ms(started)
            last = nodes.inclusion_proof(connection, log_id, first - 1, first)
            if not verify_inclusion(first - 1, first, leaf(first - 1), last, first_root):
                raise RuntimeError(f"root_at({first}) is not the root of its leaves")
            if not verify_consistency(first, size, first_root, root, proof):
                raise RuntimeError(f"the consistency proof {first} -> {size} does not verify")
            if turn >= WARM_UP:
                consistency.append(took)
                roots.append(rooted)
        nodes_stored = connection.scalar(
            sa.text("SELECT count(*) FROM merkle_nodes WHERE log_id = :log"), {"log": log_id}
        )
    return {
        "backend": store.backend,
        "entries": size,
        "nodes": nodes_stored,
        "root": root.hex(),
        "samples": samples,
        "verified": "every proof verified",
        "inclusion_ms": inclusion,
        "consistency_ms": consistency,
        "root_at_ms": roots,
        "verify_inclusion_ms": statistics.median(verify_inclusion_ms),
        "path_hashes": lengths,
        "path_bytes": raw,
        "audit_path_json_bytes": as_json,
        "audit_path_compact_json_bytes": compact,
    }


def figures(store: Store, samples: int, reuse: bool = True, sizes: bool = True,
            console: Console | None = None) -> list[Figure]:
    """Build (or reuse) the store's log, then its proof figures (and proof sizes)."""
    built = build(store, reuse, console)
    took = build_time(store)
    result = measure(store, samples)
    seconds = took.append_seconds
    found = [Figure(
        f"Merkle log build, {store.label}",
        "s",
        [seconds],
        higher_is_better=False,
        detail={"built_this_run": built, "transactions": took.transactions,
                "settle_seconds": took.settle_seconds, "nodes": result["nodes"],
                "leaves_per_second": store.entries / seconds if seconds else None,
                "method": "Frontier over synthetic leaves -> node_appender, "
                          f"{CHUNK:,} leaves per transaction"},
    )]
    for key, what in (("inclusion_ms", "inclusion proof"), ("consistency_ms", "consistency proof"),
                      ("root_at_ms", "root_at")):
        timings = result[key]
        summary = _summary(timings)
        found.append(Figure(
            f"{what}, {store.label}", "ms", list(timings), higher_is_better=False,
            detail={"p99_ms": summary["p99_ms"], "verified": True},
        ))
    if sizes:
        for key, unit in (("path_hashes", "hashes"), ("path_bytes", "bytes raw"),
                          ("audit_path_json_bytes", "bytes JSON")):
            found.append(Figure(
                f"inclusion proof size, {store.entries:,} entries", unit,
                [float(each) for each in result[key]], higher_is_better=False,
            ))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, nargs="*", default=[1_000_000, 10_000_000],
                        help="log sizes in PostgreSQL")
    parser.add_argument("--sqlite", type=int, nargs="*", default=[], help="log sizes in SQLite")
    parser.add_argument("--samples", type=int, default=200, help="proofs of each kind")
    parser.add_argument("--database-url", help="PostgreSQL (default: the service database)")
    parser.add_argument("--rebuild", action="store_true", help="do not reuse a built log")
    args = parser.parse_args()
    console = Console(stderr=True)
    stores = [postgres_store(n, args.database_url) for n in args.entries]
    stores += [sqlite_store(n) for n in args.sqlite if n]
    found: list[Figure] = []
    sized: set[int] = set()
    for store in stores:
        found += figures(store, args.samples, not args.rebuild, store.entries not in sized,
                         console)
        sized.add(store.entries)
    for figure in found:
        console.print(f"{figure.name}: median {figure.median:,.2f} (min {figure.low:,.2f}, "
                      f"max {figure.high:,.2f}) {figure.unit}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    output = RESULTS / f"merkle_proofs-{stamp}.json"
    output.write_text(json.dumps([each.as_dict() for each in found], indent=2) + "\n")
    console.log(f"saved {output}")


if __name__ == "__main__":
    main()
