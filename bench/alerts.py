"""Alerts: projection into PostgreSQL with alerts off and on, and the alert latency from
event publish to webhook receipt. ``python -m bench.alerts [--events N] [--runs R]``
(or ``scripts/bench alerts ...``).

Off is the projector without the alert outbox (what a replay does); on is ``project`` as
deployed: every flagged entry written to the outbox in the projection's transaction and a
relay thread publishing the outbox to an alert topic as the projector goes, the run timed
until the projector has caught up *and* the relay has published every alert. Runs
alternate off/on, on/off, ... so that the machine's drift hits both; the cost is also given
per pair of neighbouring runs.

The latency run projects a paced live stream (batches of events published every
``--pace-ms``) with the relay delivering every alert to a webhook receiver on 127.0.0.1
(allowed by the configuration); each alert's latency is from the moment its event's batch
was handed to the producer to the moment the receiver had the signed delivery.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from pathlib import Path

import orjson
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.figures import Figure
from bench.services import bootstrap_servers, fresh_postgres
from bench.stream import BenchTopic, prepare_topic, simulated_events
from client_audit.cli.alert_wiring import relay_running
from consumer.dead_letter import DeadLetterWriter
from consumer.intake import Intake
from consumer.projector import Projector, ProjectorConfig
from producer.publisher import EventPublisher
from producer.topics import TopicLayout, ensure_topics
from projections.alerts.rules import AlertRules
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import alert_outbox
from projections.model.addresses import parse_network
from projections.write.store import ApplyResult, ProjectionStore
from relay.alert_topic import AlertPublisher
from relay.backoff import RetryPolicy
from relay.config import AlertConfig, WebhookEndpoint
from relay.relay import Relay

RESULTS = Path(__file__).parent / "results"
SECRET = b"bench-webhook-secret-0123456789abcdef"


@dataclass(frozen=True)
class AlertRun:
    events_per_second: float
    alerts: int


def _alert_topic(topic: BenchTopic, name: str) -> str:
    ensure_topics(topic.bootstrap, TopicLayout(topic.lifecycle, topic.dead_letter, alerts=name))
    return name


def project(topic: BenchTopic, database_url: str, alerts: str | None) -> AlertRun:
    """One projection of the whole topic into an empty store; with ``alerts`` (the alert
    topic), the outbox is written and a relay publishes it, and the run ends when both are
    done."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    writer = DeadLetterWriter(topic.bootstrap, topic.dead_letter)
    config = ProjectorConfig(
        bootstrap_servers=topic.bootstrap, topic=topic.lifecycle,
        dead_letter_topic=topic.dead_letter, group_id=None, until_caught_up=True,
        progress_interval_s=30,
    )
    relay = None
    wake = threading.Event()
    if alerts is not None:
        relay = Relay(engine, AlertPublisher(topic.bootstrap, alerts), AlertConfig())

    def observe(_intake: Intake, result: ApplyResult) -> None:
        if result.anomalies:
            wake.set()

    store = ProjectionStore(engine, alerts=None if relay is None else AlertRules())
    projector = Projector(config, store, writer, on_batch=observe)
    try:
        started = time.perf_counter()
        with relay_running(relay, wake, drain=True):
            report = projector.run()
        elapsed = time.perf_counter() - started
    finally:
        writer.close()
        engine.dispose()
    if report.applied != topic.events:
        raise RuntimeError(f"applied {report.applied} of {topic.events} events")
    published = 0 if relay is None else relay.report.published
    flagged = sum(report.anomalies.values())
    if relay is not None and not published:
        raise RuntimeError(f"no alert published ({flagged} flags)")
    return AlertRun(topic.events / elapsed, published)


def measure_rates(topic: BenchTopic, runs: int) -> tuple[Figure, Figure, Figure]:
    """Projection into PostgreSQL with alerts off and on, alternated; and the on/off ratio
    of each pair of neighbouring runs."""
    alerts = _alert_topic(topic, f"bench.alerts.{int(time.time())}")
    common = {"events": topic.events, "runs": runs}
    off = Figure("projection into PostgreSQL, alerts off", "events/s", detail=dict(common))
    on = Figure("projection into PostgreSQL, alerts on (outbox + relay to Kafka)", "events/s",
                detail=dict(common))
    pairs = Figure("alerts on / off, per pair of neighbouring runs", "ratio")
    for run in range(runs):
        order = (None, alerts) if run % 2 == 0 else (alerts, None)
        measured: dict[bool, float] = {}
        for which in order:
            with fresh_postgres() as url:
                result = project(topic, url, which)
            measured[which is not None] = result.events_per_second
            if which is not None:
                on.detail["alerts"] = result.alerts
        off.samples.append(measured[False])
        on.samples.append(measured[True])
        pairs.samples.append(measured[True] / measured[False])
    return off, on, pairs


class _Receiver(BaseHTTPRequestHandler):
    """Takes each delivery and notes when it arrived (HTTP/1.1: connections kept alive)."""

    protocol_version = "HTTP/1.1"
    received: dict[str, float]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        arrived = time.time()
        event_id = orjson.loads(body)["data"]["eventId"]
        self.received.setdefault(str(event_id), arrived)
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def receiver() -> Iterator[tuple[str, dict[str, float]]]:
    received: dict[str, float] = {}
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def measure_latency(bootstrap: str, events: int, batch: int, pace_ms: float) -> Figure:
    """Alert latency, publish to webhook receipt, over a paced live stream of ``events``."""
    name = f"bench.latency.{int(time.time())}"
    topic = BenchTopic(bootstrap, f"{name}.lifecycle", f"{name}.dlq", events)
    alerts = f"{name}.anomalies"
    ensure_topics(bootstrap, TopicLayout(topic.lifecycle, topic.dead_letter, alerts=alerts))
    stream = simulated_events(events, seed=7)
    with receiver() as (url, received), fresh_postgres() as database_url:
        config = AlertConfig(
            webhooks=(WebhookEndpoint("bench", url, SECRET, timeout_s=5.0),),
            allowed_networks=(parse_network("127.0.0.1/32"),),
            retry=RetryPolicy(),
        )
        upgrade(database_url)
        engine = create_engine_for(database_url)
        writer = DeadLetterWriter(bootstrap, topic.dead_letter)
        relay = Relay(engine, AlertPublisher(bootstrap, alerts), config)
        wake = threading.Event()
        projector_config = ProjectorConfig(
            bootstrap_servers=bootstrap, topic=topic.lifecycle,
            dead_letter_topic=topic.dead_letter, group_id=None, poll_timeout_ms=50,
        )

        def observe(_intake: Intake, result: ApplyResult) -> None:
            if result.anomalies:
                wake.set()

        projector = Projector(projector_config, ProjectionStore(engine, alerts=AlertRules()),
                              writer, on_batch=observe)
        running = threading.Thread(target=projector.run, daemon=True)
        running.start()
        published: dict[str, float] = {}
        try:
            with relay_running(relay, wake):
                with EventPublisher(bootstrap, topic.lifecycle, linger_ms=0) as publisher:
                    source = iter(stream)
                    while chunk := list(islice(source, batch)):
                        sent = time.time()
                        publisher.publish_many(chunk)
                        for event in chunk:
                            published[str(event.event_id)] = sent
                        time.sleep(pace_ms / 1000)
                flagged = _wait_for_deliveries(database_url, received)
            stages = _stages(database_url, published, received)
        finally:
            projector.stop()
            running.join()
            writer.close()
            engine.dispose()
    latencies = [
        (received[event_id] - published[event_id]) * 1000 for event_id in received
    ]
    figure = Figure("alert latency, event publish to webhook receipt", "ms",
                    higher_is_better=False,
                    detail={"events": events, "alerts": len(latencies), "flagged": flagged,
                            "p50 ms by stage": stages})
    figure.samples = latencies
    return figure


def _stages(
    database_url: str, published: dict[str, float], received: dict[str, float]
) -> dict[str, float]:
    """Median milliseconds of each stage: publish to flagged (the projection), flagged to
    on the alert topic (the relay's publishing), on the topic to webhook receipt."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(
                alert_outbox.c.event_id, alert_outbox.c.flagged_at, alert_outbox.c.published_at
            )).all()
    finally:
        engine.dispose()
    projection, publishing, delivering = [], [], []
    for event_id, flagged_at, published_at in rows:
        if event_id not in received or published_at is None:
            continue
        projection.append((flagged_at.timestamp() - published[event_id]) * 1000)
        publishing.append((published_at - flagged_at).total_seconds() * 1000)
        delivering.append((received[event_id] - published_at.timestamp()) * 1000)
    return {
        "publish to flagged": statistics.median(projection),
        "flagged to alert topic": statistics.median(publishing),
        "alert topic to webhook": statistics.median(delivering),
    }


def _wait_for_deliveries(database_url: str, received: dict[str, float]) -> int:
    """Wait until the receiver has every alert the outbox holds; return how many."""
    engine = create_engine_for(database_url)
    try:
        deadline = time.monotonic() + 300
        last = -1
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                total = connection.scalar(sa.select(sa.func.count()).select_from(alert_outbox))
            if total and total == len(received) and total == last:
                return int(total)
            last = int(total or 0)
            time.sleep(1.0)
        raise RuntimeError(f"{len(received)} of {last} alerts delivered within 300 s")
    finally:
        engine.dispose()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="stream size for rates")
    parser.add_argument("--runs", type=int, default=3, help="runs each of alerts off and on")
    parser.add_argument("--latency-events", type=int, default=10_000,
                        help="events in the paced latency run (0 skips it)")
    parser.add_argument("--batch", type=int, default=100, help="events per paced batch")
    parser.add_argument("--pace-ms", type=float, default=250.0, help="pause between batches")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    console = Console()
    bootstrap = bootstrap_servers()
    topic = prepare_topic(bootstrap, arguments.events)
    console.log(f"projection into PostgreSQL, alerts off / on, {arguments.runs} runs each")
    off, on, pairs = measure_rates(topic, arguments.runs)
    figures = [off, on, pairs]
    ratios = {"alerts on / off, of medians": on.median / off.median}
    if arguments.latency_events:
        console.log("alert latency over a paced live stream")
        latency = measure_latency(bootstrap, arguments.latency_events, arguments.batch,
                                  arguments.pace_ms)
        figures.append(latency)
        ratios["alert latency p50, ms"] = percentile(latency.samples, 0.50)
        ratios["alert latency p99, ms"] = percentile(latency.samples, 0.99)
        ratios["alert latency max, ms"] = max(latency.samples)
        for stage, value in latency.detail["p50 ms by stage"].items():
            ratios[f"alert latency p50, {stage}, ms"] = value
    table = Table(title="client-audit alerts benchmark")
    for column in ("figure", "unit", "median", "min", "max", "n"):
        table.add_column(column)
    for figure in figures:
        table.add_row(figure.name, figure.unit, f"{figure.median:,.2f}", f"{figure.low:,.2f}",
                      f"{figure.high:,.2f}", str(len(figure.samples)))
    for name, value in ratios.items():
        table.add_row(name, "", f"{value:,.2f}", "", "", "")
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"alerts-{stamp}.json"
    document = {
        "figures": [
            {**f.as_dict(), "samples": f.samples if len(f.samples) <= 10 else
             {"count": len(f.samples), "mean": statistics.fmean(f.samples)}}
            for f in figures
        ],
        "ratios": ratios,
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    console.log(f"saved {path}")


if __name__ == "__main__":
    main()
