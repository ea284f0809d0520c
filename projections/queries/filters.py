"""The filters of every question: frozen, validated, with the API parameter names as aliases.

A filter that fails validation raises :class:`pydantic.ValidationError` whose locations are
the aliases (``from``, ``credentialId``, ``eventType`` …), so the command line and the API
can both name the offending parameter. Every filter has a time range: ``from`` inclusive,
``to`` exclusive, both instants with an offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Self, TypeVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialStatus
from projections.queries.values import Instant, NetworkText, QueryModel, SearchText
from schemas.models import DenialReason, EventType, UseOutcome


class Windowed(QueryModel):
    """A half-open time range ``[from, to)``; either end may be left open."""

    start: Instant | None = Field(default=None, alias="from")
    end: Instant | None = Field(default=None, alias="to")

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError(f"must be after from ({start.isoformat()})")
        return end


_Choice = TypeVar("_Choice", bound=str)


def _unique_sorted(values: Sequence[_Choice]) -> tuple[_Choice, ...]:
    return tuple(sorted(set(values)))


class TrailFilter(Windowed):
    """The audit trail of a credential, an owner or an actor (all given must match)."""

    credential_id: SearchText | None = None
    user_id: SearchText | None = None
    actor_id: SearchText | None = None
    event_types: tuple[EventType, ...] = Field(default=(), alias="eventType")

    @field_validator("event_types")
    @classmethod
    def _event_type_set(cls, values: tuple[EventType, ...]) -> tuple[EventType, ...]:
        return _unique_sorted(values)


class UsesFilter(Windowed):
    """Uses of credentials, optionally from one address or network, by outcome and reason."""

    network: NetworkText | None = None
    credential_id: SearchText | None = None
    user_id: SearchText | None = None
    outcome: UseOutcome | None = None
    denial_reasons: tuple[DenialReason, ...] = Field(default=(), alias="reason")

    @field_validator("denial_reasons")
    @classmethod
    def _reason_set(cls, values: tuple[DenialReason, ...]) -> tuple[DenialReason, ...]:
        return _unique_sorted(values)

    @model_validator(mode="after")
    def _reasons_only_when_denied(self) -> Self:
        if self.denial_reasons and self.outcome is UseOutcome.ALLOWED:
            raise ValueError("reason filters apply to DENIED uses only, not to outcome ALLOWED")
        return self


class AnomalyFilter(Windowed):
    """Audit entries flagged with any anomaly, or with any of the given kinds."""

    kinds: tuple[Anomaly, ...] = Field(default=(), alias="kind")
    credential_id: SearchText | None = None
    user_id: SearchText | None = None

    @field_validator("kinds")
    @classmethod
    def _kind_set(cls, values: tuple[Anomaly, ...]) -> tuple[Anomaly, ...]:
        return _unique_sorted(values)


class CredentialFilter(Windowed):
    """Credentials by id, owner, status, scoped role, expiry and last use.

    The time range bounds the creation instant (credentials whose creation instant is
    unknown are left out when a range is given). ``expiring_before`` keeps credentials whose
    expiry is before that instant (already expired ones included); ``unused_since`` keeps
    credentials with no allowed use at or after that instant (never used ones included).
    """

    credential_id: SearchText | None = None
    user_id: SearchText | None = None
    status: CredentialStatus | None = None
    role: SearchText | None = None
    expiring_before: Instant | None = None
    unused_since: Instant | None = None


HttpStatus = Annotated[int, Field(ge=100, le=599)]


class AccessFilter(Windowed):
    """Access-log entries by token name, route template and status, in a window of their
    request instants."""

    token_name: SearchText | None = Field(default=None, alias="token")
    route: SearchText | None = None
    statuses: tuple[HttpStatus, ...] = Field(default=(), alias="status")

    @field_validator("statuses")
    @classmethod
    def _status_set(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(values)))
