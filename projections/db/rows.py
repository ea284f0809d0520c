"""Conversions between the projection's values and table rows.

A credentials row holds every field of :class:`~projections.model.credential.CredentialState`
under the same name; the conversions are derived from the fields' annotations: UUIDs as
text, enums as their value, sets of texts as JSON arrays.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any

from sqlalchemy import RowMapping

from projections.model.anomalies import Anomaly
from projections.model.credential import CREDENTIAL_FIELDS, CredentialState, FieldShape
from projections.model.positioned import PositionedEvent
from schemas.models import EVENT_CLASSES, CredentialUsed, EventType, LifecycleEvent

Convert = Callable[[Any], Any]


def _to_cell(shape: FieldShape) -> Convert | None:
    """How a field's value is written into its column (None: as it is)."""
    if shape.is_set:
        return list
    if shape.value_type is uuid.UUID:
        return str
    if issubclass(shape.value_type, Enum):
        return attrgetter("value")
    return None


def _from_cell(shape: FieldShape) -> Convert | None:
    """How a column's value is read back into the field (None: as it is)."""
    if shape.is_set:
        return tuple
    if shape.value_type is uuid.UUID or issubclass(shape.value_type, Enum):
        return shape.value_type
    return None


def _nullable(convert: Convert | None, shape: FieldShape) -> Convert | None:
    if convert is None or not shape.optional:
        return convert
    return lambda value: None if value is None else convert(value)


_TO_CELLS = tuple(
    (shape.name, _nullable(_to_cell(shape), shape)) for shape in CREDENTIAL_FIELDS
)
_FROM_CELLS = tuple(
    (shape.name, _nullable(_from_cell(shape), shape)) for shape in CREDENTIAL_FIELDS
)


def state_row(state: CredentialState) -> dict[str, Any]:
    """The credentials row of a state."""
    return {
        name: value if convert is None else convert(value)
        for (name, convert), value in zip(_TO_CELLS, state, strict=True)
    }


def state_from_row(row: RowMapping | Mapping[str, Any]) -> CredentialState:
    """The state held in a credentials row (as returned by ``Row._mapping``)."""
    return CredentialState._make(
        row[name] if convert is None else convert(row[name]) for name, convert in _FROM_CELLS
    )


def audit_row(
    positioned: PositionedEvent,
    anomalies: Sequence[Anomaly],
    projected_at: datetime,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit_log row recording one event (without its position, which the database
    assigns); ``payload``: the event's :func:`payload_of`, when the caller has it already."""
    event = positioned.event
    envelope = event.envelope
    use = event if isinstance(event, CredentialUsed) else None
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type.value,
        "credential_id": envelope.credential_id,
        "client_id": envelope.client_id,
        "user_id": envelope.user_id,
        "actor_kind": envelope.actor.kind.value,
        "actor_id": envelope.actor.id,
        "correlation_id": envelope.correlation_id,
        "source": envelope.source,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "sequence": envelope.sequence,
        "source_ip": None if use is None else use.source_ip,
        "outcome": None if use is None else use.outcome.value,
        "denial_reason": (
            None if use is None or use.denial_reason is None else use.denial_reason.value
        ),
        "payload": payload_of(event) if payload is None else payload,
        "anomalies": [anomaly.value for anomaly in anomalies],
        "is_anomaly": bool(anomalies),
        "kafka_topic": positioned.topic,
        "kafka_partition": positioned.partition,
        "kafka_offset": positioned.offset,
        "projected_at": projected_at,
    }


def payload_of(event: LifecycleEvent) -> dict[str, Any]:
    """The JSON document an event is stored as (Avro field names)."""
    return event.model_dump(mode="json", by_alias=True)


def event_from_payload(event_type: str, payload: Mapping[str, Any]) -> LifecycleEvent:
    """The event an audit_log row's ``event_type`` and ``payload`` record."""
    return EVENT_CLASSES[EventType(event_type)].from_record(payload)
