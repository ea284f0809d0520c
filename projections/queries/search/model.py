"""The validated filter a search query compiles to: per qualifier, the values any of which
must match and the values none of which may, plus a time window and an order.

Every value is of the same validated type the other filters use (ids as
:data:`~projections.queries.values.SearchText`, networks as
:data:`~projections.queries.values.NetworkText`, the contract's enumerations), so a
``SearchFilter`` holds nothing a parameter of the API could not hold.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import Field, field_validator

from projections.model.anomalies import Anomaly
from projections.queries.filters import Windowed
from projections.queries.values import NetworkText, QueryModel, SearchText
from schemas.models import DenialReason, EventType, UseOutcome

Value = TypeVar("Value", bound=str)


class Terms(QueryModel, Generic[Value]):
    """``any_of``: at least one must match (none given: no condition); ``none_of``: none may."""

    any_of: tuple[Value, ...] = ()
    none_of: tuple[Value, ...] = ()

    @field_validator("any_of", "none_of")
    @classmethod
    def _as_set(cls, values: tuple[Value, ...]) -> tuple[Value, ...]:
        return tuple(sorted(set(values)))

    def __bool__(self) -> bool:
        return bool(self.any_of or self.none_of)


class SearchFilter(Windowed):
    """What a search query asks for; every qualifier given must hold (AND), values repeated
    within one qualifier are alternatives (OR), negated values are excluded.

    ``addresses`` are single-address networks (``ip:``), ``words`` are matched against the
    credential's current display name, ``roles`` against its current scoped roles;
    ``flagged`` keeps flagged (True) or unflagged (False) entries.
    """

    credentials: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    users: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    clients: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    actors: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    correlations: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    roles: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    event_types: Terms[EventType] = Field(default_factory=Terms[EventType])
    outcomes: Terms[UseOutcome] = Field(default_factory=Terms[UseOutcome])
    reasons: Terms[DenialReason] = Field(default_factory=Terms[DenialReason])
    anomalies: Terms[Anomaly] = Field(default_factory=Terms[Anomaly])
    flagged: bool | None = None
    addresses: Terms[NetworkText] = Field(default_factory=Terms[NetworkText])
    networks: Terms[NetworkText] = Field(default_factory=Terms[NetworkText])
    words: Terms[SearchText] = Field(default_factory=Terms[SearchText])
    newest_first: bool = True
