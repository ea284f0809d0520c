"""A credential's current state: the one definition of a credential's fields.

:class:`CredentialState` is the only place the fields are spelled out. The credentials
table (:mod:`projections.db.tables`), its row conversions (:mod:`projections.db.rows`), the
records queries return (:mod:`projections.queries.rows`) and the empty state the fold starts
from (:func:`blank_state`) are all derived from its annotations.
"""

from __future__ import annotations

import types
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, NamedTuple, Union, get_args, get_origin, get_type_hints

from schemas.models import EventType


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Bits:
    """Marks an integer field whose values always fit in this many bits (signed)."""

    width: int


class CredentialState(NamedTuple):
    """A credential as of its last applied lifecycle event.

    ``seen_source_ips`` holds every address the credential was used from (allowed or denied
    uses), sorted; ``anomaly_count`` counts its audit entries carrying at least one flag.
    ``created_event_id`` is None while the credential's creation has not been seen.
    ``last_changed_at`` is the occurrence instant of the last applied event (of any type);
    ``updated_at`` only follows created / roles scoped / updated / expired / deleted.
    """

    credential_id: str
    client_id: str
    user_id: str
    display_name: str | None
    scoped_roles: tuple[str, ...]
    allow_source_cidr: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    last_used_at: datetime | None
    expires_time: datetime | None
    deleted_at: datetime | None
    status: CredentialStatus
    last_sequence: int
    last_event_id: uuid.UUID
    last_event_type: EventType
    last_changed_at: datetime
    created_event_id: uuid.UUID | None
    seen_source_ips: tuple[str, ...]
    anomaly_count: Annotated[int, Bits(32)]

    @property
    def is_deleted(self) -> bool:
        return self.status is CredentialStatus.DELETED

    def is_expired_at(self, instant: datetime) -> bool:
        """Expired by status, or by an expiry instant at or before ``instant``."""
        if self.status is CredentialStatus.EXPIRED:
            return True
        return self.expires_time is not None and self.expires_time <= instant


@dataclass(frozen=True, slots=True)
class FieldShape:
    """What a field holds, read off its annotation: the value type, whether it may be None,
    whether it is a set of texts (a tuple), and a declared integer width."""

    name: str
    value_type: type[Any]
    optional: bool
    is_set: bool
    bits: int | None


def field_shapes(model: type[Any]) -> tuple[FieldShape, ...]:
    """The shape of every field of a NamedTuple, in field order."""
    hints = get_type_hints(model, include_extras=True)
    return tuple(_shape(name, hints[name]) for name in model._fields)


def _shape(name: str, hint: Any) -> FieldShape:
    bits = None
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        bits = next((extra.width for extra in extras if isinstance(extra, Bits)), None)
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        members = [member for member in get_args(hint) if member is not type(None)]
        optional, hint = len(members) < len(get_args(hint)), members[0]
    is_set = get_origin(hint) is tuple
    value_type = get_args(hint)[0] if is_set else hint
    return FieldShape(name, value_type, optional, is_set, bits)


CREDENTIAL_FIELDS = field_shapes(CredentialState)
"""Every field of a credential's state, in order."""


def _empty(shape: FieldShape) -> Any:
    if shape.optional:
        return None
    if shape.is_set:
        return ()
    if issubclass(shape.value_type, Enum):
        return next(iter(shape.value_type))
    if shape.value_type is int:
        return 0
    return _REQUIRED


_REQUIRED = object()

_BLANK = {shape.name: _empty(shape) for shape in CREDENTIAL_FIELDS}


def blank_state(
    credential_id: str,
    client_id: str,
    user_id: str,
    last_event_id: uuid.UUID,
    last_event_type: EventType,
    last_changed_at: datetime,
) -> CredentialState:
    """A credential nothing is known of but its ids and the event that named it: no name,
    roles, networks or instants, active, at sequence 0, no anomaly yet."""
    given = {
        "credential_id": credential_id,
        "client_id": client_id,
        "user_id": user_id,
        "last_event_id": last_event_id,
        "last_event_type": last_event_type,
        "last_changed_at": last_changed_at,
    }
    return CredentialState(**(_BLANK | given))


def underived_fields() -> list[str]:
    """The fields :func:`blank_state` must be given: those without an empty value."""
    return sorted(name for name, value in _BLANK.items() if value is _REQUIRED)

