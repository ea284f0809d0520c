"""Alerts on the alert topic: one per flagged entry, traced to its evidence, exactly once
through restarts, rewinds, replays and a relay killed mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime

import orjson
import pytest
import sqlalchemy as sa

from producer.topics import TopicLayout, ensure_topics
from projections.alerts.model import alert_id_of
from projections.db.engine import create_engine_for
from projections.db.tables import alert_outbox, consumer_positions
from projections.model.anomalies import Anomaly
from relay.messages import ALERT_TYPE
from tests.integration.alert_support import (
    TopicAlert,
    alert_cli,
    flagged_entries,
    outbox,
    read_alerts,
)
from tests.integration.projector_support import make_topics, publish, publish_simulation
from tests.integration.test_projector_anomalies import _histories

pytestmark = pytest.mark.integration


def _alert_topic(bootstrap: str, name: str) -> str:
    topic = f"{name}.anomalies"
    ensure_topics(bootstrap, TopicLayout(f"{name}.lifecycle", f"{name}.dlq", 6, alerts=topic))
    return topic


def _by_ce_id(alerts: list[TopicAlert]) -> dict[str, list[TopicAlert]]:
    found: dict[str, list[TopicAlert]] = defaultdict(list)
    for alert in alerts:
        found[alert.ce_id].append(alert)
    return found


def test_each_flagged_entry_is_one_alert_traced_to_its_evidence(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    events, expected = _histories()
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    alert_topic = _alert_topic(kafka_bootstrap_servers, unique_name)
    publish(topics, events)

    result = alert_cli(topics, database_url, alert_topic, "project", "--until-caught-up",
                       "--group", unique_name)
    assert result.exit_code == 0, result.output

    flagged = flagged_entries(database_url)
    assert set(flagged) == {event_id for event_id, kinds in expected.items() if kinds}
    alerts = read_alerts(kafka_bootstrap_servers, alert_topic)
    assert sorted(str(a.record["eventId"]) for a in alerts) == sorted(flagged)
    for alert in alerts:
        entry = flagged[str(alert.record["eventId"])]
        kinds = [Anomaly(kind) for kind in entry["anomalies"]]
        assert alert.record["kinds"] == entry["anomalies"]
        assert set(alert.record["kinds"]) == {k.value for k in expected[entry["event_id"]]}
        assert alert.ce_id == str(alert.record["alertId"]) == alert_id_of(entry["event_id"], kinds)
        assert alert.headers["ce_specversion"] == b"1.0"
        assert alert.headers["ce_type"] == ALERT_TYPE.encode()
        assert alert.headers["ce_source"] == b"urn:client-audit"
        assert alert.headers["ce_subject"] == entry["credential_id"].encode()
        assert alert.headers["content-type"].startswith(b"application/avro")
        sent_at = datetime.fromisoformat(alert.headers["ce_time"].decode())
        assert sent_at == alert.record["flaggedAt"]
        assert alert.key == entry["credential_id"].encode()
        assert alert.partition == entry["kafka_partition"]
        assert alert.record["position"] == {
            "topic": topics.lifecycle, "partition": entry["kafka_partition"],
            "offset": entry["kafka_offset"], "leafIndex": entry["leaf_index"],
            "chainHash": entry["chain_hash"],
        }
        assert orjson.loads(alert.record["event"]) == entry["payload"]
        assert alert.record["silenced"] is None
    assert all(row["published_at"] is not None for row in outbox(database_url))


def test_restarts_rewinds_and_replays_make_no_second_alert_unless_asked(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: object
) -> None:
    events, _expected = _histories()
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    alert_topic = _alert_topic(kafka_bootstrap_servers, unique_name)
    publish(topics, events)
    args = ("project", "--until-caught-up", "--group", unique_name)
    assert alert_cli(topics, database_url, alert_topic, *args).exit_code == 0
    first = read_alerts(kafka_bootstrap_servers, alert_topic)
    assert first

    assert alert_cli(topics, database_url, alert_topic, *args).exit_code == 0
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(consumer_positions).values(next_offset=0))
    finally:
        engine.dispose()
    rewound = alert_cli(topics, database_url, alert_topic, *args)
    assert rewound.exit_code == 0, rewound.output
    assert f'"duplicatesSkipped": {len(events)}' in rewound.output

    replayed_url = f"sqlite:///{tmp_path}/replayed.db"
    replayed = alert_cli(topics, database_url, alert_topic, "replay", "--into", replayed_url,
                         "--no-progress")
    assert replayed.exit_code == 0, replayed.output
    assert outbox(replayed_url) == []
    assert len(flagged_entries(replayed_url)) == len(first)
    assert len(outbox(database_url)) == len(first)
    assert len(read_alerts(kafka_bootstrap_servers, alert_topic)) == len(first)

    asked = alert_cli(topics, replayed_url, alert_topic, "relay", "--backfill", "--until-idle")
    assert asked.exit_code == 0, asked.output
    assert f"{len(first)} alerts made for flagged entries that had none" in asked.output
    sent_again = read_alerts(kafka_bootstrap_servers, alert_topic)
    assert len(sent_again) == 2 * len(first)
    copies = _by_ce_id(sent_again)
    assert set(copies) == {alert.ce_id for alert in first}
    assert all(len(same) == 2 for same in copies.values())
    again = alert_cli(topics, replayed_url, alert_topic, "relay", "--backfill", "--until-idle")
    assert "0 alerts made for flagged entries that had none" in again.output


def _published(database_url: str) -> int:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).where(
                alert_outbox.c.published_at.is_not(None))) or 0
    finally:
        engine.dispose()


def test_a_relay_killed_mid_stream_loses_no_alert_and_repeats_none_unrecognisably(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str
) -> None:
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    alert_topic = _alert_topic(kafka_bootstrap_servers, unique_name)
    publish_simulation(topics, credentials_count=400, seed=23)
    filled = alert_cli(topics, database_url, alert_topic, "project", "--until-caught-up",
                       "--group", unique_name, "--no-relay")
    assert filled.exit_code == 0, filled.output
    total = len(outbox(database_url))
    assert total > 1000
    assert read_alerts(kafka_bootstrap_servers, alert_topic) == []

    command = [
        sys.executable, "-m", "client_audit.cli", *topics.cli_options(database_url),
        "--alert-topic", alert_topic, "relay", "--batch-size", "50",
    ]
    kills = []
    for _round in range(2):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=dict(os.environ))
        before = _published(database_url)
        deadline = time.monotonic() + 60
        while _published(database_url) < before + 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        kills.append(_published(database_url))
    assert 0 < kills[0] < kills[1] < total, kills

    finished = alert_cli(topics, database_url, alert_topic, "relay", "--until-idle")
    assert finished.exit_code == 0, finished.output

    rows = outbox(database_url)
    assert all(row["published_at"] is not None for row in rows)
    flagged = flagged_entries(database_url)
    expected_ids = {
        alert_id_of(event_id, [Anomaly(k) for k in entry["anomalies"]])
        for event_id, entry in flagged.items()
    }
    alerts = read_alerts(kafka_bootstrap_servers, alert_topic)
    copies = _by_ce_id(alerts)
    assert set(copies) == expected_ids == {row["alert_id"] for row in rows}
    for same in copies.values():
        assert all(copy.record == same[0].record and copy.key == same[0].key
                   for copy in same)
    assert len(alerts) - len(copies) <= 2 * 50, "at most one unmarked batch per kill resent"
