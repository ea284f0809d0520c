"""An alert on the wire: CloudEvents Kafka binding (binary mode) and the webhook body, the
same bytes on every retry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from projections.alerts.model import Alert, EntryPosition, alert_id_of
from projections.model.anomalies import Anomaly
from relay.messages import ALERT_TYPE, kafka_message, webhook_body
from schemas.alerts import alert_schema, decode_alert

EVENT_ID = "0b3c2d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def an_alert(credential_id: str = "cred-1", source_ip: str | None = "203.0.113.7") -> Alert:
    kinds = (Anomaly.USE_AFTER_DELETION, Anomaly.NEW_SOURCE_IP)
    return Alert(
        alert_id=alert_id_of(EVENT_ID, kinds),
        kinds=kinds,
        event_id=EVENT_ID,
        event_type="USED",
        credential_id=credential_id,
        user_id="alice",
        client_id="client-1",
        source_ip=source_ip,
        occurred_at=datetime(2026, 3, 3, 10, 0, 0, 7, tzinfo=UTC),
        flagged_at=datetime(2026, 3, 3, 10, 0, 1, 500000, tzinfo=UTC),
        position=EntryPosition("life", 3, 41, 17, "ab" * 32),
        event={"eventId": EVENT_ID, "sourceIp": source_ip, "note": "ünïcode"},
    )


def test_the_alert_id_is_the_same_for_the_same_event_and_kinds_in_any_order() -> None:
    forward = alert_id_of(EVENT_ID, [Anomaly.NEW_SOURCE_IP, Anomaly.USE_AFTER_DELETION])
    backward = alert_id_of(EVENT_ID, [Anomaly.USE_AFTER_DELETION, Anomaly.NEW_SOURCE_IP])
    assert forward == backward
    assert uuid.UUID(forward).version == 5
    assert forward != alert_id_of(EVENT_ID, [Anomaly.NEW_SOURCE_IP])
    assert forward != alert_id_of(EVENT_ID.replace("0b", "0c", 1), [Anomaly.NEW_SOURCE_IP])


def test_binary_mode_headers_key_and_value() -> None:
    alert = an_alert()
    message = kafka_message(alert, "urn:example")
    digest = alert_schema()[1]
    assert message.headers == {
        "ce_specversion": b"1.0",
        "ce_id": alert.alert_id.encode(),
        "ce_source": b"urn:example",
        "ce_type": ALERT_TYPE.encode(),
        "ce_subject": b"cred-1",
        "ce_time": b"2026-03-03T10:00:01.500000Z",
        "ce_dataschema": f"urn:avro:clientaudit.alerts.Alert:{digest.hex()}".encode(),
        "content-type": b"application/avro; encoding=single-object",
    }
    assert message.key == b"cred-1"
    record = decode_alert(message.value)
    assert str(record["alertId"]) == alert.alert_id
    assert record["kinds"] == ["USE_AFTER_DELETION", "NEW_SOURCE_IP"]
    assert record["position"] == {
        "topic": "life", "partition": 3, "offset": 41, "leafIndex": 17, "chainHash": "ab" * 32,
    }
    assert orjson.loads(record["event"]) == alert.event
    assert record["silenced"] is None and record["sourceIp"] == "203.0.113.7"


def test_a_retry_sends_the_same_bytes() -> None:
    first, second = kafka_message(an_alert()), kafka_message(an_alert())
    assert (first.headers, first.key, first.value) == (second.headers, second.key, second.value)
    assert webhook_body(an_alert()) == webhook_body(an_alert())


def test_hostile_identifiers_travel_as_bytes_unchanged() -> None:
    odd = "cred\x00\n\u202eévil\U0001f600"
    message = kafka_message(an_alert(credential_id=odd, source_ip=None))
    assert message.headers["ce_subject"] == odd.encode()
    assert message.key == odd.encode()
    assert decode_alert(message.value)["credentialId"] == odd


def test_the_webhook_body_is_the_standard_webhooks_payload_structure() -> None:
    body = orjson.loads(webhook_body(an_alert()))
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == ALERT_TYPE
    assert body["timestamp"] == "2026-03-03T10:00:01.500000Z"
    data = body["data"]
    assert data["alertId"] == an_alert().alert_id
    assert data["event"] == an_alert().event
    assert data["occurredAt"] == "2026-03-03T10:00:00.000007Z"
    assert data["position"]["leafIndex"] == 17
