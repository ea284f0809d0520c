"""Every anomaly kind is flagged on a hand-written history that travels through Kafka."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from consumer.dead_letter import DeadLetterWriter
from consumer.metrics import ProjectorMetrics
from consumer.projector import Projector
from producer.simulate import Simulation, SimulationConfig
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.model.anomalies import Anomaly
from projections.write.store import ProjectionStore
from schemas.models import DenialReason, LifecycleEvent
from tests.builders_projection import T0, History
from tests.integration.projector_support import make_topics, project, publish, snapshot
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def _histories() -> tuple[list[LifecycleEvent], dict[str, set[Anomaly]]]:
    """Events in publishing order, and the flags each event id must carry."""
    expected: dict[str, set[Anomaly]] = {}
    events: list[LifecycleEvent] = []

    def add(event: LifecycleEvent, *flags: Anomaly) -> None:
        events.append(event)
        expected[str(event.event_id)] = set(flags)

    deleted = History("cred-deleted")
    add(deleted.created(allow_source_cidr=["10.0.0.0/8", "2001:db8::/32"]))
    add(deleted.used("10.1.2.3"))
    add(deleted.used("2001:db8::5"), Anomaly.NEW_SOURCE_IP)
    add(
        deleted.used("192.0.2.10", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS),
        Anomaly.USE_OUTSIDE_ALLOWED_CIDRS,
        Anomaly.NEW_SOURCE_IP,
    )
    add(deleted.deleted(reason="rotated"))
    add(deleted.used("10.1.2.3"), Anomaly.USE_AFTER_DELETION)
    add(deleted.roles_scoped("admin"), Anomaly.ROLE_CHANGE_ON_DELETED)
    add(deleted.updated(display_name="again"), Anomaly.CHANGE_ON_DELETED)

    expired = History("cred-expired")
    add(expired.created(expires_time=T0 + timedelta(minutes=2)))
    add(expired.expired(expires_time=T0 + timedelta(minutes=2)))
    add(expired.used("10.9.9.9", denied=DenialReason.EXPIRED), Anomaly.USE_AFTER_EXPIRY)
    add(expired.roles_scoped("viewer", "admin"), Anomaly.ROLE_CHANGE_ON_EXPIRED)

    orphan = History("cred-orphan")
    add(orphan.used("10.0.0.1", sequence=1), Anomaly.EVENT_BEFORE_CREATION)

    twice = History("cred-twice")
    add(twice.created())
    add(twice.created(sequence=2), Anomaly.DUPLICATE_CREATION)

    gaps = History("cred-gaps")
    add(gaps.created())
    add(gaps.used("10.0.0.1", sequence=4), Anomaly.SEQUENCE_GAP)
    add(gaps.roles_scoped("late-role", sequence=2), Anomaly.SEQUENCE_LATE)
    add(gaps.used("10.0.0.2", sequence=4), Anomaly.SEQUENCE_DUPLICATE)
    return events, expected


def test_every_anomaly_kind_is_flagged(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    events, expected = _histories()
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    publish(topics, events)

    report = project(topics, database_url, group=unique_name)

    assert report.applied == len(events)
    audit = snapshot(database_url).audit
    flagged = {event_id: set(row["anomalies"]) for event_id, row in audit.items()}
    for event_id, flags in expected.items():
        assert flagged[event_id] >= flags, (event_id, flagged[event_id], flags)
    assert set().union(*expected.values()) == set(Anomaly), "the history covers every kind"
    state = snapshot(database_url).credentials
    assert state["cred-gaps"]["scoped_roles"] == ["late-role"], (
        "a late fact still reaches the state"
    )
    assert state["cred-deleted"]["status"] == "deleted"
    assert state["cred-expired"]["status"] == "expired"


def _wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_an_unreachable_database_is_retried_without_loss(
    kafka_bootstrap_servers: str, pg_url: str, unique_name: str
) -> None:
    url = sa.make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    simulation = Simulation(SimulationConfig(credentials=400, seed=9))
    events = list(simulation.events())
    publish(topics, events[:1000])
    upgrade(proxied)
    engine = create_engine_for(proxied)
    metrics = ProjectorMetrics()
    config = topics.projector_config(unique_name, batch_size=100)
    writer = DeadLetterWriter(kafka_bootstrap_servers, topics.dead_letter, 10)
    projector = Projector(config, ProjectionStore(engine), writer, metrics)
    runner = threading.Thread(target=projector.run, daemon=True)
    runner.start()
    try:
        _wait_until(lambda: projector.report.applied >= 1000)
        proxy.cut()
        publish(topics, events[1000:])
        _wait_until(lambda: metrics.store_failures._value.get() >= 2)
        assert runner.is_alive(), "the projector must wait for the database, not die"
        assert projector.report.applied == 1000, "nothing is applied while the database is away"
        proxy.restore()
        deadline = time.monotonic() + 90
        while projector.report.applied < len(events) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        projector.stop()
        runner.join(timeout=60)
        proxy.close()
        writer.close()
        engine.dispose()
    assert projector.report.applied == len(events)
    assert metrics.store_failures._value.get() > 0
    result = snapshot(pg_url)
    assert result.audit_rows == len(events)
    assert {row["event_id"] for row in result.audit.values()} == {str(e.event_id) for e in events}
