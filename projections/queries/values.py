"""Validated value types of query filters: instants with an offset, search text, networks."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.addresses import network_text

MAX_TEXT_LENGTH = 512
"""Longest id, role or name a filter accepts; every stored value is far shorter."""


class QueryModel(BaseModel):
    """Immutable, strictly validated query input; field aliases are the API parameter names."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def _utc_instant(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no UTC offset; add Z or +hh:mm (e.g. 2026-03-03T10:00:00Z)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the representable UTC range") from None


def _search_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _network(value: str) -> str:
    text = value.strip()
    if "%" in text:
        raise ValueError(f"{value!r}: IPv6 zone ids (%eth0) are not supported in a network filter")
    try:
        if "/" not in text:
            return network_text(ipaddress.ip_network(ipaddress.ip_address(text)))
        return network_text(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        loose = _loose_network(text)
        hint = f"; did you mean {loose}?" if loose and "has host bits set" in str(exc) else ""
        raise ValueError(
            f"{value!r} is not an IPv4/IPv6 address or CIDR network ({exc}){hint}"
        ) from None


def _loose_network(text: str) -> str | None:
    try:
        return network_text(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


Instant = Annotated[datetime, AfterValidator(_utc_instant)]
"""A timezone-aware instant, normalised to UTC; naive datetimes are refused."""

SearchText = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_search_text)]
"""An exact-match value (id, role): non-blank, no NUL, compared as given (never as SQL)."""

NetworkText = Annotated[str, Field(max_length=100), AfterValidator(_network)]
"""An IPv4/IPv6 address (a /32 or /128 network) or a CIDR without host bits, canonical."""
