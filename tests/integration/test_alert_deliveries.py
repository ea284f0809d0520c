"""Alert deliveries end to end: signed webhooks to a real receiver, retries with backoff,
timeouts, giving up and redelivering, the address guard, rules and silences, SIEM output."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from client_audit.cli.main import cli
from producer.topics import TopicLayout, ensure_topics
from projections.model.anomalies import Anomaly
from relay.messages import ALERT_TYPE
from relay.siem import CRITICAL_KINDS
from relay.signing import parse_secret
from tests.integration.alert_receivers import (
    Answer,
    SiemListener,
    WebhookReceiver,
    always,
    closed_port,
    failing_first,
)
from tests.integration.alert_support import alert_cli, flagged_entries, outbox, read_alerts
from tests.integration.projector_support import Topics, make_topics, publish
from tests.integration.test_projector_anomalies import _histories

pytestmark = pytest.mark.integration

FUTURE = "2099-01-01T00:00:00Z"
PAST = "2026-01-01T00:00:00Z"
DELETION_KINDS = {"USE_AFTER_DELETION", "CHANGE_ON_DELETED", "ROLE_CHANGE_ON_DELETED"}


def _secret() -> tuple[str, bytes]:
    text = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    return text, parse_secret(text)


@dataclass(frozen=True)
class Setup:
    """The topics, the database and the alerts files of one test; runs the CLI on them."""

    topics: Topics
    database_url: str
    alert_topic: str
    folder: Path

    def cli(self, *args: str) -> Result:
        return alert_cli(self.topics, self.database_url, self.alert_topic, *args)

    def alerts_file(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text)
        return path

    def project(self, alerts: Path) -> Result:
        result = self.cli("project", "--until-caught-up", "--group", self.topics.lifecycle,
                          "--alerts", str(alerts))
        assert result.exit_code == 0, result.output
        return result

    def relay_until(self, alerts: Path, done: Callable[[], bool], timeout: float = 30) -> int:
        """Run ``relay --until-idle`` until ``done`` (a relay stops when nothing is due, so
        backoff waits are waited by running it again); return how many runs it took."""
        deadline = time.monotonic() + timeout
        runs = 0
        while not done():
            assert time.monotonic() < deadline, "the deliveries did not settle in time"
            result = self.cli("relay", "--alerts", str(alerts), "--until-idle")
            assert result.exit_code == 0, result.output
            runs += 1
            time.sleep(0.05)
        return runs

    def deliveries(self, *filters: str) -> list[dict[str, Any]]:
        """``query deliveries --format jsonl``: one row per attempt."""
        result = self.cli("query", "deliveries", "--format", "jsonl", *filters)
        assert result.exit_code == 0, result.output
        return [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def setup(
    kafka_bootstrap_servers: str, database_url: str, unique_name: str, tmp_path: Path
) -> Setup:
    events, _expected = _histories()
    topics = make_topics(kafka_bootstrap_servers, unique_name)
    alert_topic = f"{unique_name}.anomalies"
    ensure_topics(kafka_bootstrap_servers, TopicLayout(
        topics.lifecycle, topics.dead_letter, 6, alerts=alert_topic))
    publish(topics, events)
    return Setup(topics, database_url, alert_topic, tmp_path)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


def _by_delivery(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["deliveryId"], []).append(row)
    return found


def _at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["at"])


# --- 1, 6, 7: signed deliveries, rules and silences, SIEM ----------------------------------


def _expected_silence(entry: dict[str, Any]) -> str | None:
    """What the rules of the first test decide for an audit entry, written out by hand."""
    if set(entry["anomalies"]) <= {"DUPLICATE_CREATION"}:
        return "kinds not alerting: DUPLICATE_CREATION"
    if entry["credential_id"] == "cred-expired":
        return f"silence investigation until {FUTURE}: credential under investigation"
    source = entry["source_ip"]
    if source is not None and ipaddress.ip_address(source) in ipaddress.ip_network("10.0.0.0/24"):
        return f"silence scanner until {FUTURE}: weekly vulnerability scan"
    return None


def test_signed_deliveries_go_to_the_endpoints_kinds_and_silences_hold_them_back(
    setup: Setup, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    soc_text, soc_key = _secret()
    deletions_text, deletions_key = _secret()
    env_name = f"DELETIONS_SECRET_{setup.topics.lifecycle.split('.')[0].upper()}"
    monkeypatch.setenv(env_name, deletions_text)
    receiver.endpoint("/soc", soc_key)
    receiver.endpoint("/deletions", deletions_key)
    syslog, cef = SiemListener("syslog"), SiemListener("cef")
    not_alerting = [kind.value for kind in Anomaly if kind is not Anomaly.DUPLICATE_CREATION]
    alerts = setup.alerts_file("alerts.yaml", f"""\
rules:
  kinds: [{", ".join(not_alerting)}]
  silences:
    - name: closed-case
      credentials: [cred-deleted]
      until: {PAST}
      reason: an expired silence
    - name: investigation
      credentials: [cred-expired]
      until: {FUTURE}
      reason: credential under investigation
    - name: scanner
      networks: [10.0.0.0/24]
      until: {FUTURE}
      reason: weekly vulnerability scan
webhooks:
  - name: soc
    url: {receiver.url("/soc")}
    secret: {soc_text}
  - name: deletions
    url: {receiver.url("/deletions")}
    kinds: [{", ".join(sorted(DELETION_KINDS))}]
    secret_env: {env_name}
    timeout_s: 5
siem:
  - name: syslog-out
    host: 127.0.0.1
    port: {syslog.port}
    format: syslog
  - name: cef-out
    host: 127.0.0.1
    port: {cef.port}
    format: cef
allowed_networks: [127.0.0.1/32]
""")
    try:
        setup.project(alerts)
        flagged = flagged_entries(setup.database_url)
        rows = {row["alert_id"]: row for row in outbox(setup.database_url)}
        sent = sum(row["silenced"] is None for row in rows.values())
        deadline = time.monotonic() + 10
        while len(syslog.syslog()) < sent or len(cef.cef()) < sent:
            assert time.monotonic() < deadline, "the SIEM listeners did not get every alert"
            time.sleep(0.02)
        syslog_messages, cef_events = syslog.syslog(), cef.cef()
    finally:
        syslog.close()
        cef.close()

    assert {row["event_id"] for row in rows.values()} == set(flagged)
    expected = {aid: _expected_silence(flagged[row["event_id"]]) for aid, row in rows.items()}
    assert {aid: row["silenced"] for aid, row in rows.items()} == expected
    reasons = Counter(reason.split(":")[0] if reason else None for reason in expected.values())
    assert set(reasons) == {
        None, "kinds not alerting", f"silence investigation until {FUTURE[:13]}",
        f"silence scanner until {FUTURE[:13]}",
    }, reasons
    assert any(
        flagged[rows[aid]["event_id"]]["credential_id"] == "cred-deleted"
        for aid, reason in expected.items() if reason is None
    ), "the expired silence of cred-deleted silences nothing"

    on_topic = read_alerts(setup.topics.bootstrap, setup.alert_topic)
    assert sorted(alert.ce_id for alert in on_topic) == sorted(rows), "silenced ones too"
    assert {alert.ce_id: alert.record["silenced"] for alert in on_topic} == expected

    going_out = {aid for aid, reason in expected.items() if reason is None}
    deletions = {aid for aid in going_out if DELETION_KINDS & set(rows[aid]["kinds"])}
    assert deletions and deletions < going_out

    everything = receiver.received()
    assert everything, "the receiver got deliveries"
    assert [r.signature_error for r in everything] == [None] * len(everything)
    for path, wanted in (("/soc", going_out), ("/deletions", deletions)):
        got = receiver.received(path)
        assert sorted(r.webhook_id for r in got) == sorted(wanted), path
        for request in got:
            assert request.status == 200
            assert request.headers["content-type"] == "application/json"
            assert request.headers["webhook-signature"].startswith("v1,")
            assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
            row = rows[request.webhook_id]
            entry = flagged[row["event_id"]]
            document = request.document
            assert document["type"] == ALERT_TYPE
            data = document["data"]
            assert data["alertId"] == request.webhook_id
            assert data["silenced"] is None
            assert data["eventId"] == entry["event_id"]
            assert data["eventType"] == entry["event_type"]
            assert data["credentialId"] == entry["credential_id"]
            assert data["sourceIp"] == entry["source_ip"]
            assert data["kinds"] == row["kinds"] == entry["anomalies"]
            assert data["position"] == {
                "topic": row["kafka_topic"], "partition": row["kafka_partition"],
                "offset": row["kafka_offset"], "leafIndex": row["leaf_index"],
                "chainHash": row["chain_hash"],
            }
            assert (row["kafka_partition"], row["kafka_offset"]) == (
                entry["kafka_partition"], entry["kafka_offset"])
            assert row["chain_hash"] == entry["chain_hash"]
            assert data["event"] == entry["payload"]
            assert datetime.fromisoformat(data["flaggedAt"]) == row["flagged_at"]
    ce_ids = {alert.ce_id for alert in on_topic}
    assert {r.webhook_id for r in everything} <= ce_ids

    assert sorted(m.params["id"] for m in syslog_messages) == sorted(going_out)
    for message in syslog_messages:
        row = rows[message.params["id"]]
        critical = any(Anomaly(kind) in CRITICAL_KINDS for kind in row["kinds"])
        assert message.priority == 10 * 8 + (2 if critical else 4)
        assert message.sd_id == "alert@32473"
        assert message.app_name == "client-audit"
        assert message.msgid == "anomaly"
        assert message.params["credential"] == row["credential_id"]
        assert message.params["event"] == row["event_id"]
        assert message.params["hash"] == row["chain_hash"]
        assert message.params["kinds"] == ",".join(row["kinds"])
        assert row["credential_id"] in message.message
    assert sorted(e.extension["externalId"] for e in cef_events) == sorted(going_out)
    for event in cef_events:
        row = rows[event.extension["externalId"]]
        assert event.header[:3] == ["CEF:0", "client-audit", "client-audit"]
        assert event.header[4] == row["kinds"][0]
        assert event.extension["cs2"] == row["credential_id"]
        assert event.extension["cs3"] == row["event_id"]
        assert event.extension["cs4"] == row["chain_hash"]
        assert int(event.extension["cn2"]) == row["kafka_offset"]

    attempts = setup.deliveries()
    by_target = Counter(row["target"] for row in attempts)
    assert by_target == {
        "soc": len(going_out), "deletions": len(deletions),
        "syslog-out": len(going_out), "cef-out": len(going_out),
    }
    for row in attempts:
        assert (row["status"], row["attempt"], row["succeeded"]) == ("delivered", 1, True), row
        assert row["alertId"] in going_out
        if row["targetKind"] == "webhook":
            assert (row["statusCode"], row["result"]) == (200, "HTTP 200: ok")
        else:
            assert row["statusCode"] is None
            assert row["result"].startswith("sent ") and row["result"].endswith(" bytes")
    assert setup.deliveries("--target", "deletions", "--status", "delivered") == [
        row for row in attempts if row["target"] == "deletions"
    ]

    again = setup.cli("relay", "--alerts", str(alerts), "--until-idle")
    assert again.exit_code == 0, again.output
    assert len(receiver.received()) == len(everything), "a second relay sends nothing again"


# --- 2, 3, 4: failures recorded, retried with backoff, timeouts, giving up, redelivering ---


INITIAL_S, MAX_INTERVAL_S, GIVE_UP_S = 0.2, 1.0, 3.0


def test_failures_are_recorded_retried_with_backoff_then_given_up_and_redelivered(
    setup: Setup, receiver: WebhookReceiver
) -> None:
    text, key = _secret()
    receiver.endpoint("/flaky", key, failing_first(2, Answer(500, "try later")))
    receiver.endpoint("/slow", key, failing_first(1, Answer(200, "too late", delay_s=1.5)))
    receiver.endpoint("/down", key, always(Answer(503, "maintenance")))
    alerts = setup.alerts_file("alerts.yaml", f"""\
webhooks:
  - name: flaky
    url: {receiver.url("/flaky")}
    kinds: [USE_AFTER_DELETION]
    secret: {text}
  - name: slow
    url: {receiver.url("/slow")}
    kinds: [USE_AFTER_EXPIRY]
    secret: {text}
    timeout_s: 0.5
  - name: down
    url: {receiver.url("/down")}
    kinds: [EVENT_BEFORE_CREATION, DUPLICATE_CREATION]
    secret: {text}
allowed_networks: [127.0.0.1/32]
retry: {{initial_s: {INITIAL_S}, max_interval_s: {MAX_INTERVAL_S}, give_up_after_s: {GIVE_UP_S}}}
""")
    setup.project(alerts)

    def settled() -> bool:
        return all(row["status"] != "pending" for row in setup.deliveries())

    setup.relay_until(alerts, settled)
    kinds_of = {row["alert_id"]: set(row["kinds"]) for row in outbox(setup.database_url)}
    deliveries = _by_delivery(setup.deliveries())
    targets: dict[str, list[int]] = {}
    for delivery_id, rows in deliveries.items():
        targets.setdefault(rows[0]["target"], []).append(delivery_id)
    wanted = {
        target: sorted(aid for aid, kinds in kinds_of.items() if kinds & set(names))
        for target, names in (
            ("flaky", ["USE_AFTER_DELETION"]), ("slow", ["USE_AFTER_EXPIRY"]),
            ("down", ["EVENT_BEFORE_CREATION", "DUPLICATE_CREATION"]),
        )
    }
    assert {t: sorted(deliveries[d][0]["alertId"] for d in ids) for t, ids in targets.items()} \
        == wanted
    assert len(wanted["flaky"]) == len(wanted["slow"]) == 1 and len(wanted["down"]) == 2

    # 500 twice, then 200: every attempt recorded with its answer, waits growing.
    (flaky,) = (deliveries[d] for d in targets["flaky"])
    assert [(r["attempt"], r["succeeded"], r["statusCode"], r["result"]) for r in flaky] == [
        (1, False, 500, "HTTP 500: try later"), (2, False, 500, "HTTP 500: try later"),
        (3, True, 200, "HTTP 200: ok"),
    ]
    assert {r["status"] for r in flaky} == {"delivered"}
    for number, (earlier, later) in enumerate(itertools.pairwise(flaky), start=1):
        least = 0.5 * min(MAX_INTERVAL_S, INITIAL_S * 2 ** (number - 1))
        assert _at(later) - _at(earlier) >= timedelta(seconds=least), (number, flaky)
    requests = receiver.received("/flaky")
    assert [r.status for r in requests] == [500, 500, 200]
    assert {r.webhook_id for r in requests} == set(wanted["flaky"])
    assert len({r.body for r in requests}) == 1, "a retry sends the same bytes"
    assert all(r.signature_error is None for r in requests)

    # An answer slower than timeout_s is a timeout; the retry then gets through.
    (slow,) = (deliveries[d] for d in targets["slow"])
    assert [(r["attempt"], r["succeeded"], r["statusCode"], r["result"]) for r in slow] == [
        (1, False, None, "no answer within 0.5 s"), (2, True, 200, "HTTP 200: ok"),
    ]
    assert 450 <= slow[0]["durationMs"] < 1500
    assert [r.webhook_id for r in receiver.received("/slow")] == wanted["slow"] * 2

    # Always 503: given up after give_up_after_s, failed and visible.
    down_ids = sorted(targets["down"])
    for delivery_id in down_ids:
        rows = deliveries[delivery_id]
        assert {r["status"] for r in rows} == {"failed"}
        assert len(rows) >= 3, rows
        assert all((r["succeeded"], r["statusCode"], r["result"]) ==
                   (False, 503, "HTTP 503: maintenance") for r in rows)
        assert rows[-1]["nextAttemptAt"] is None
        assert _at(rows[-1]) - _at(rows[0]) >= timedelta(seconds=GIVE_UP_S / 2)
    failed = setup.deliveries("--status", "failed")
    assert sorted({r["deliveryId"] for r in failed}) == down_ids
    assert len(failed) == sum(len(deliveries[d]) for d in down_ids)
    before = len(receiver.received("/down"))
    idle = setup.cli("relay", "--alerts", str(alerts), "--until-idle")
    assert idle.exit_code == 0, idle.output
    assert len(receiver.received("/down")) == before, "a failed delivery is not retried alone"

    # redeliver by id, then --all-failed: pending again, delivered once the receiver is up.
    receiver.answer("/down", always(Answer(200, "back")))
    first, second = down_ids
    not_failed = setup.cli("redeliver", str(targets["flaky"][0]))
    assert not_failed.exit_code == 1
    assert "1 of the given deliveries are not failed ones" in not_failed.output
    one = setup.cli("redeliver", str(first))
    assert one.exit_code == 0, one.output
    assert "1 deliveries pending again" in one.output
    statuses = {r["deliveryId"]: r["status"] for r in setup.deliveries("--target", "down")}
    assert statuses == {first: "pending", second: "failed"}
    setup.relay_until(alerts, lambda: setup.deliveries("--status", "pending") == [])
    statuses = {r["deliveryId"]: r["status"] for r in setup.deliveries("--target", "down")}
    assert statuses == {first: "delivered", second: "failed"}
    assert [r.status for r in receiver.received("/down")][before:] == [200]

    every = setup.cli("redeliver", "--all-failed")
    assert every.exit_code == 0, every.output
    assert "1 deliveries pending again" in every.output
    setup.relay_until(alerts, lambda: setup.deliveries("--status", "pending") == [])
    assert setup.deliveries("--status", "failed") == []
    down = _by_delivery(setup.deliveries("--target", "down"))
    for delivery_id in down_ids:
        last = down[delivery_id][-1]
        assert (last["status"], last["succeeded"], last["statusCode"], last["result"]) == (
            "delivered", True, 200, "HTTP 200: back")
        assert len(down[delivery_id]) == len(deliveries[delivery_id]) + 1, "earlier kept"
    assert [r.status for r in receiver.received("/down")][before:] == [200, 200]
    assert sorted(r.webhook_id for r in receiver.received("/down")[before:]) == sorted(
        deliveries[d][0]["alertId"] for d in down_ids)


# --- 5 and 7: the address guard; a SIEM that is not there -----------------------------------


def test_the_guard_refuses_loopback_unless_allowed_and_an_absent_siem_is_recorded(
    setup: Setup, receiver: WebhookReceiver
) -> None:
    text, key = _secret()
    receiver.endpoint("/local", key)
    port = closed_port()
    outputs = f"""\
webhooks:
  - name: local
    url: {receiver.url("/local")}
    kinds: [USE_AFTER_DELETION]
    secret: {text}
siem:
  - name: nowhere
    host: 127.0.0.1
    port: {port}
    format: syslog
    kinds: [USE_AFTER_DELETION]
retry: {{initial_s: 0.1, max_interval_s: 1, give_up_after_s: 600}}
"""
    refusing = setup.alerts_file("refusing.yaml", outputs)
    setup.project(refusing)

    rows = setup.deliveries()
    assert sorted(r["target"] for r in rows) == ["local", "nowhere"]
    local = next(r for r in rows if r["target"] == "local")
    assert (local["status"], local["attempt"], local["succeeded"]) == ("pending", 1, False)
    assert local["statusCode"] is None
    assert local["result"] == (
        "refused by the address guard: '127.0.0.1': address 127.0.0.1 is loopback")
    assert receiver.received() == [], "a refused delivery never reaches the receiver"
    nowhere = next(r for r in rows if r["target"] == "nowhere")
    assert (nowhere["status"], nowhere["attempt"], nowhere["succeeded"]) == ("pending", 1, False)
    assert nowhere["result"].startswith(f"SIEM 127.0.0.1:{port}: ")
    assert "refused" in nowhere["result"].lower(), nowhere["result"]

    allowing = setup.alerts_file("allowing.yaml", outputs + "allowed_networks: [127.0.0.1/32]\n")

    def delivered_and_retried() -> bool:
        rows = setup.deliveries()
        return any(r["target"] == "local" and r["status"] == "delivered" for r in rows) and (
            sum(r["target"] == "nowhere" for r in rows) >= 2)

    setup.relay_until(allowing, delivered_and_retried)
    attempts = setup.deliveries("--target", "local")
    assert [(r["attempt"], r["succeeded"], r["statusCode"]) for r in attempts][-1] == (
        len(attempts), True, 200)
    assert all("address guard" in r["result"] for r in attempts[:-1])
    (request,) = receiver.received("/local")
    assert request.signature_error is None
    assert request.webhook_id == attempts[0]["alertId"]
    nowhere_attempts = setup.deliveries("--target", "nowhere")
    assert len(nowhere_attempts) >= 2
    assert all(not r["succeeded"] and r["result"].startswith(f"SIEM 127.0.0.1:{port}: ")
               for r in nowhere_attempts)
    assert {r["status"] for r in nowhere_attempts} == {"pending"}


# --- 8: an invalid alerts file --------------------------------------------------------------


def test_an_invalid_alerts_file_stops_project_and_relay_naming_its_lines(
    tmp_path: Path,
) -> None:
    text, _key = _secret()
    path = tmp_path / "alerts.yaml"
    path.write_text(f"""\
webhooks:
  - name: soc
    url: https://hooks.example.com/client-audit
    secret: {text}
    kinds: [USE_AFTER_DELETION, NOT_A_KIND]
retry:
  initial_s: 0.001
""")
    options = ["--bootstrap-servers", "127.0.0.1:1", "--database-url",
               f"sqlite:///{tmp_path / 'audit.db'}"]
    for command in (["project", "--until-caught-up"], ["relay", "--until-idle"]):
        result = CliRunner().invoke(cli, [*options, *command, "--alerts", str(path)])
        assert result.exit_code == 2, (command, result.output)
        assert f"{path}:5: webhooks[0].kinds[1]: unknown kind 'NOT_A_KIND'" in result.output
        assert f"{path}:7: retry.initial_s:" in result.output
        assert text not in result.output, "no secret in an error"
    assert not (tmp_path / "audit.db").exists()



def test_a_projector_stopping_caught_up_delivers_every_due_alert(
    setup: Setup, receiver: WebhookReceiver
) -> None:
    """More deliveries than one relay round takes: all of them go out before `project
    --until-caught-up` exits (a signal-stopped projector leaves the rest in the database)."""
    endpoints = []
    for index in range(6):
        text, key = _secret()
        receiver.endpoint(f"/all-{index}", key)
        endpoints.append(f"""\
  - name: all-{index}
    url: {receiver.url(f"/all-{index}")}
    secret: {text}
""")
    alerts = setup.alerts_file("many.yaml", "webhooks:\n" + "".join(endpoints)
                               + "allowed_networks: [127.0.0.1/32]\n")
    setup.project(alerts)
    rows = setup.deliveries()
    flagged = len(flagged_entries(setup.database_url))
    assert len(rows) == 6 * flagged > 32
    assert {row["status"] for row in rows} == {"delivered"}
    assert len(receiver.received()) == 6 * flagged
