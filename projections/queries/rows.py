"""The typed rows queries return: audit entries, credential records, access-log entries.

Both serialise with camelCase names (as the Avro contract and the API do); ``from_row``
builds one from a SQLAlchemy row of the ``audit_log`` or ``credentials`` table.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, get_type_hints

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import RowMapping

from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialState
from schemas.models import ActorKind, DenialReason, EventType, UseOutcome


class RowModel(BaseModel):
    """A frozen row whose fields serialise with camelCase names."""

    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class AuditEntry(RowModel):
    """One recorded lifecycle event: envelope, use details, anomaly flags and Kafka origin."""

    position: int
    event_id: str
    event_type: EventType
    credential_id: str
    client_id: str
    user_id: str
    actor_kind: ActorKind
    actor_id: str
    correlation_id: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    sequence: int
    source_ip: str | None
    outcome: UseOutcome | None
    denial_reason: DenialReason | None
    anomalies: tuple[Anomaly, ...]
    payload: dict[str, Any]
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    projected_at: datetime
    leaf_index: int
    chain_hash: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        values = dict(row)
        values.pop("is_anomaly", None)
        return cls.model_validate(values)


class AccessLogEntry(RowModel):
    """One recorded request to the API or console, with its link in the access chain."""

    position: int
    at: datetime
    token_name: str | None
    method: str
    route: str
    parameters: dict[str, Any]
    rows_returned: int | None
    status: int
    client_address: str | None
    previous_hash: str
    chain_hash: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls.model_validate(dict(row))


def _record_annotations() -> dict[str, Any]:
    """The annotations of every credential field (see :mod:`projections.model.credential`)."""
    return dict(get_type_hints(CredentialState))


class CredentialRecord(RowModel):
    """A credential's current state, as of its last applied lifecycle event.

    Its fields are those of :class:`~projections.model.credential.CredentialState`, with
    camelCase names.
    """

    __annotations__ = _record_annotations()

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls.model_validate(dict(row))

    @classmethod
    def of(cls, state: CredentialState) -> Self:
        return cls.model_validate(state._asdict())
