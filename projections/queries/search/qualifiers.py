"""The qualifiers of the search language: their names, what each selects, how its value is
read. A value that cannot be read raises ValueError with a sentence for the user.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError

from projections.model.anomalies import Anomaly
from projections.queries.values import Instant, NetworkText, SearchText
from schemas.models import DenialReason, EventType, UseOutcome

ANY_ANOMALY = "ANY"
"""``anomaly:any``: flagged with any kind."""


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True, slots=True)
class Qualifier:
    """One qualifier: the filter field it fills, how a value is read, what it selects."""

    name: str
    field: str
    read: Callable[[str], Any]
    summary: str
    example: str
    repeatable: bool = True
    negatable: bool = True


def _validated(adapter: TypeAdapter[Any], value: object) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"]
        raise ValueError(message.removeprefix("Value error, ")) from None


_TEXT: TypeAdapter[str] = TypeAdapter(SearchText)
_NETWORK: TypeAdapter[str] = TypeAdapter(NetworkText)
_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


def read_text(value: str) -> str:
    return str(_validated(_TEXT, value))


def _choice(kind: type[StrEnum], what: str) -> Callable[[str], Any]:
    names = [member.value for member in kind]

    def read(value: str) -> Any:
        wanted = value.strip().upper().replace("-", "_")
        if wanted in names:
            return kind(wanted)
        close = difflib.get_close_matches(wanted, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"is not {what} ({', '.join(names)}){hint}")

    return read


_anomaly_kind = _choice(Anomaly, "an anomaly kind (or ANY)")


def read_anomaly(value: str) -> Anomaly | str:
    if value.strip().upper() == ANY_ANOMALY:
        return ANY_ANOMALY
    result: Anomaly = _anomaly_kind(value)
    return result


def read_network(value: str) -> str:
    return str(_validated(_NETWORK, value))


def read_address(value: str) -> str:
    """One address, as the single-address network a search compares with."""
    if "/" in value:
        raise ValueError("takes one address; use network: for a CIDR")
    network = read_network(value)
    if ipaddress.ip_network(network).num_addresses != 1:
        raise ValueError("takes one address; use network: for a CIDR")
    return network


def read_instant(value: str) -> datetime:
    """An ISO-8601 instant with an offset (a date alone, or a naive time, is refused)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "is not an ISO-8601 instant with an offset (e.g. 2026-03-03T10:00:00Z)"
        ) from None
    instant: datetime = _validated(_INSTANT, parsed)
    return instant


def read_sort(value: str) -> Sort:
    try:
        return Sort(value.strip().lower())
    except ValueError:
        raise ValueError("is newest or oldest") from None


QUALIFIERS: dict[str, Qualifier] = {
    each.name: each
    for each in (
        Qualifier("credential", "credentials", read_text, "the credential id",
                  "credential:cred-0042"),
        Qualifier("user", "users", read_text, "the owner's user id", "user:user-0007"),
        Qualifier("client", "clients", read_text, "the OAuth2 client id", "client:client-1"),
        Qualifier("actor", "actors", read_text, "who caused the event (user or system id)",
                  "actor:expiry-sweeper"),
        Qualifier("correlation", "correlations", read_text, "the correlation id",
                  "correlation:req-77"),
        Qualifier("type", "event_types", _choice(EventType, "an event type"),
                  "the event type", "type:USED"),
        Qualifier("outcome", "outcomes", _choice(UseOutcome, "a use outcome"),
                  "a use's outcome", "outcome:DENIED"),
        Qualifier("reason", "reasons", _choice(DenialReason, "a denial reason"),
                  "a denied use's reason", "reason:EXPIRED"),
        Qualifier("anomaly", "anomalies", read_anomaly,
                  "an anomaly flag on the entry (any: flagged at all)",
                  "anomaly:USE_AFTER_DELETION"),
        Qualifier("ip", "addresses", read_address,
                  "a use's source address (IPv4 also matches its IPv4-mapped IPv6 form)",
                  "ip:198.51.100.7"),
        Qualifier("network", "networks", read_network, "a use's source address is in the CIDR",
                  "network:10.0.0.0/8"),
        Qualifier("role", "roles", read_text, "the credential now holds the scoped role",
                  "role:admin"),
        Qualifier("after", "start", read_instant, "occurred at or after the instant",
                  "after:2026-01-05T00:00:00Z", repeatable=False, negatable=False),
        Qualifier("before", "end", read_instant, "occurred before the instant",
                  "before:2026-01-06T00:00:00Z", repeatable=False, negatable=False),
        Qualifier("sort", "newest_first", read_sort, "newest (the default) or oldest first",
                  "sort:oldest", repeatable=False, negatable=False),
    )
}
"""Every qualifier, by name."""


def qualifier_named(name: str) -> Qualifier:
    """The qualifier called ``name`` (any case); ValueError suggesting the closest name."""
    found = QUALIFIERS.get(name.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(name.lower(), list(QUALIFIERS), n=1)
    hint = f"did you mean {close[0]}:? " if close else ""
    raise ValueError(
        f"{name!r} is not a qualifier ({hint}known: {', '.join(QUALIFIERS)}); "
        "to search for text with a colon, quote it"
    )
