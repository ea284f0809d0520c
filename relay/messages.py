"""An alert as it travels: the Avro record, the CloudEvents Kafka message (binary mode), and
the JSON body of a webhook delivery.

Every attribute comes from the stored alert, so a retry sends the same ``ce_id``, the same
headers and the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import orjson
from cloudevents.core.bindings.kafka import KafkaMessage, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from projections.alerts.model import Alert
from schemas.alerts import ALERT_CONTENT_TYPE, ALERT_SCHEMA_NAME, alert_schema, encode_alert

ALERT_TYPE = "client-audit.anomaly.v1"
"""The CloudEvents ``type`` of alerts (and the ``type`` of webhook payloads)."""

DEFAULT_SOURCE = "urn:client-audit"
"""The CloudEvents ``source`` of alerts unless configured."""


def _micros(instant: datetime) -> str:
    text = instant.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def alert_record(alert: Alert) -> dict[str, Any]:
    """The ``clientaudit.alerts.Alert`` record of an alert (Avro field names)."""
    position = alert.position
    return {
        "alertId": alert.alert_id,
        "kinds": [kind.value for kind in alert.kinds],
        "silenced": alert.silenced,
        "eventId": alert.event_id,
        "eventType": alert.event_type,
        "credentialId": alert.credential_id,
        "userId": alert.user_id,
        "clientId": alert.client_id,
        "sourceIp": alert.source_ip,
        "occurredAt": alert.occurred_at,
        "flaggedAt": alert.flagged_at,
        "position": {
            "topic": position.topic,
            "partition": position.partition,
            "offset": position.offset,
            "leafIndex": position.leaf_index,
            "chainHash": position.chain_hash,
        },
        "event": orjson.dumps(alert.event, option=orjson.OPT_SORT_KEYS).decode(),
    }


@cache
def dataschema() -> str:
    """The CloudEvents ``dataschema`` of alert values: the record name and fingerprint."""
    _schema, digest = alert_schema()
    return f"urn:avro:{ALERT_SCHEMA_NAME}:{digest.hex()}"


def kafka_message(alert: Alert, source: str = DEFAULT_SOURCE) -> KafkaMessage:
    """The alert as a CloudEvents Kafka message in binary mode: ``ce_*`` headers, the Avro
    single-object value, the credential id as key (the lifecycle topic's partitioning)."""
    event = CloudEvent(
        attributes={
            "specversion": "1.0",
            "id": alert.alert_id,
            "source": source,
            "type": ALERT_TYPE,
            "subject": alert.credential_id,
            "time": alert.flagged_at,
            "datacontenttype": ALERT_CONTENT_TYPE,
            "dataschema": dataschema(),
        },
        data=encode_alert(alert_record(alert)),
    )
    return to_binary(event, JSONFormat(), key_mapper=lambda _event: alert.credential_id.encode())


def webhook_body(alert: Alert) -> bytes:
    """The JSON body of a webhook delivery, as the Standard Webhooks payload structure has
    it: ``type``, ``timestamp`` and ``data`` (the alert record, the event as an object)."""
    data = alert_record(alert)
    data["event"] = alert.event
    data["occurredAt"] = _micros(alert.occurred_at)
    data["flaggedAt"] = _micros(alert.flagged_at)
    document = {"type": ALERT_TYPE, "timestamp": _micros(alert.flagged_at), "data": data}
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
