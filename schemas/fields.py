"""Validated field types shared by the event models: ids, roles, CIDRs, IPs, UTC instants."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("timestamp must be timezone-aware (e.g. 2026-03-03T10:00:00+00:00)")
    return value.astimezone(UTC)


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a valid IPv4/IPv6 CIDR without host bits ({exc})"
        ) from None


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid IPv4 or IPv6 address") from None


def _network_key(cidr: str) -> tuple[int, int, int]:
    network = ipaddress.ip_network(cidr)
    return network.version, int(network.network_address), network.prefixlen


def _role_set(roles: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(roles)))


def _cidr_set(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(cidrs), key=_network_key))


def _reject_bare_string(value: object) -> object:
    if isinstance(value, str | bytes):
        raise ValueError("must be a list, not a single string")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
"""A string with at least one non-blank character (ids, roles, actor, source)."""

UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A timezone-aware instant, normalised to UTC. Naive datetimes are rejected."""

Cidr = Annotated[str, AfterValidator(_network)]
"""An IPv4/IPv6 network in canonical text form. Host bits set (10.0.0.1/8) are rejected."""

IpAddress = Annotated[str, AfterValidator(_address)]
"""An IPv4/IPv6 address in canonical (compressed, lower-case) text form."""


def _as_list(values: tuple[str, ...]) -> list[str]:
    return list(values)


_AS_LIST = PlainSerializer(_as_list, return_type=list[str])

RoleSet = Annotated[
    tuple[NonEmptyStr, ...],
    BeforeValidator(_reject_bare_string),
    AfterValidator(_role_set),
    _AS_LIST,
]
"""A set of scoped roles: non-empty names, de-duplicated and sorted."""

CidrSet = Annotated[
    tuple[Cidr, ...], BeforeValidator(_reject_bare_string), AfterValidator(_cidr_set), _AS_LIST
]
"""A set of allowed CIDRs: canonical, de-duplicated, IPv4 before IPv6, in address order."""
