"""Validated field types shared by the event models: ids, roles, text, CIDRs, IPs, instants."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from schemas.addresses import address_text, network_text
from schemas.limits import (
    ADDRESS_TEXT_MAX,
    CIDRS_MAX,
    FORBIDDEN_IN_IDENTIFIER,
    FORBIDDEN_IN_TEXT,
    IDENTIFIER_MAX,
    ROLES_MAX,
    TEXT_MAX,
    describe,
)

ADDRESS_CACHE = 65_536
"""Canonical address and CIDR texts remembered (a credential is used from a few addresses
again and again; each costs an ``ipaddress`` parse otherwise)."""


def _identifier(value: str) -> str:
    """An id, role, actor, correlation id or source: 1 to IDENTIFIER_MAX characters, not
    blank, no surrounding white space, no control or invisible formatting characters."""
    if not value.strip():
        raise ValueError("must not be empty or blank")
    if len(value) > IDENTIFIER_MAX:
        raise ValueError(f"must be at most {IDENTIFIER_MAX} characters (got {len(value)})")
    if value != value.strip():
        raise ValueError("must not begin or end with white space")
    _refuse(FORBIDDEN_IN_IDENTIFIER, value, "control or invisible formatting characters")
    return value


def _text(value: str) -> str:
    """A display name or reason: at most TEXT_MAX characters, no control characters."""
    if len(value) > TEXT_MAX:
        raise ValueError(f"must be at most {TEXT_MAX} characters (got {len(value)})")
    _refuse(FORBIDDEN_IN_TEXT, value, "control characters, line separators or surrogates")
    return value


def _refuse(forbidden: re.Pattern[str], value: str, what: str) -> None:
    found = forbidden.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain {what} ({describe(found.group())} at index {found.start()})"
        )


def _address_text(value: str) -> str:
    if len(value) > ADDRESS_TEXT_MAX:
        raise ValueError(f"must be at most {ADDRESS_TEXT_MAX} characters (got {len(value)})")
    if "%" in value:
        raise ValueError(f"{value[:ADDRESS_TEXT_MAX]!r}: IPv6 zone ids (%eth0) are not allowed")
    return value.strip()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("timestamp must be timezone-aware (e.g. 2026-03-03T10:00:00+00:00)")
    return value.astimezone(UTC)


@lru_cache(maxsize=ADDRESS_CACHE)
def _network(value: str) -> str:
    text = _address_text(value)
    try:
        return network_text(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a valid IPv4/IPv6 CIDR without host bits ({exc})"
        ) from None


@lru_cache(maxsize=ADDRESS_CACHE)
def _address(value: str) -> str:
    text = _address_text(value)
    try:
        return address_text(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid IPv4 or IPv6 address") from None


@lru_cache(maxsize=ADDRESS_CACHE)
def _network_key(cidr: str) -> tuple[int, int, int]:
    network = ipaddress.ip_network(cidr)
    return network.version, int(network.network_address), network.prefixlen


def _role_set(roles: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(roles)))


def _cidr_set(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(cidrs), key=_network_key))


def _at_most(limit: int, what: str) -> BeforeValidator:
    def check(values: object) -> object:
        if isinstance(values, list | tuple) and len(values) > limit:
            raise ValueError(f"must hold at most {limit} {what} (got {len(values)})")
        return values

    return BeforeValidator(check)


def _reject_bare_string(value: object) -> object:
    if isinstance(value, str | bytes):
        raise ValueError("must be a list, not a single string")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
"""An id, role, actor id, correlation id or source (see :mod:`schemas.limits`)."""

Text = Annotated[str, AfterValidator(_text)]
"""A display name or a reason (see :mod:`schemas.limits`)."""

UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A timezone-aware instant, normalised to UTC. Naive datetimes are rejected."""

Cidr = Annotated[str, AfterValidator(_network)]
"""An IPv4/IPv6 network in canonical text form. Host bits set (10.0.0.1/8) are rejected."""

IpAddress = Annotated[str, AfterValidator(_address)]
"""An IPv4/IPv6 address in canonical text form (:func:`schemas.addresses.address_text`)."""


def _as_list(values: tuple[str, ...]) -> list[str]:
    return list(values)


_AS_LIST = PlainSerializer(_as_list, return_type=list[str])

RoleSet = Annotated[
    tuple[Identifier, ...],
    _at_most(ROLES_MAX, "roles"),
    BeforeValidator(_reject_bare_string),
    AfterValidator(_role_set),
    _AS_LIST,
]
"""A set of scoped roles: identifiers, de-duplicated and sorted."""

CidrSet = Annotated[
    tuple[Cidr, ...],
    _at_most(CIDRS_MAX, "networks"),
    BeforeValidator(_reject_bare_string),
    AfterValidator(_cidr_set),
    _AS_LIST,
]
"""A set of allowed CIDRs: canonical, de-duplicated, IPv4 before IPv6, in address order."""
