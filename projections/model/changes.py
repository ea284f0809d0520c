"""What one lifecycle event changed in a credential: the fields an investigator follows.

Scoped roles and allowed CIDRs are sets (what was added, what was removed); the display
name, expiry, deletion instant and status are values (before and after). Uses change only
the last-use instant and the addresses seen, which are not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.model.credential import CredentialState


@dataclass(frozen=True, slots=True)
class Change:
    """One field that changed: the members added and removed (sets), or the value before
    and after (None: not set)."""

    field: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None


SET_FIELDS = ("scoped_roles", "allow_source_cidr")
VALUE_FIELDS = ("display_name", "expires_time", "deleted_at", "status")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def changes_between(before: CredentialState | None, after: CredentialState) -> tuple[Change, ...]:
    """The followed fields that differ from ``before`` (None: nothing known yet) to ``after``."""
    found: list[Change] = []
    for field in SET_FIELDS:
        old = set(getattr(before, field)) if before is not None else set()
        new = set(getattr(after, field))
        if old != new:
            found.append(Change(field, added=tuple(sorted(new - old)),
                                removed=tuple(sorted(old - new))))
    for field in VALUE_FIELDS:
        old_value = _text(getattr(before, field)) if before is not None else None
        new_value = _text(getattr(after, field))
        if old_value != new_value:
            if before is None and field == "status" and new_value == "active":
                continue
            found.append(Change(field, before=old_value, after=new_value))
    return tuple(found)
