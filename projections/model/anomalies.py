"""The kinds of surprising facts the projection flags. Flagged events are still recorded."""

from __future__ import annotations

from enum import StrEnum


class Anomaly(StrEnum):
    """Why an audit entry deserves a security team's attention.

    Definition order is the order flags are listed in on an audit entry.
    """

    USE_AFTER_DELETION = "USE_AFTER_DELETION"
    """A use (allowed or denied) of a credential that is deleted."""

    USE_AFTER_EXPIRY = "USE_AFTER_EXPIRY"
    """A use of a credential whose status is expired, or whose expiry is at or before the use."""

    USE_OUTSIDE_ALLOWED_CIDRS = "USE_OUTSIDE_ALLOWED_CIDRS"
    """A use from an address in none of the credential's allowed CIDRs (empty list: all)."""

    NEW_SOURCE_IP = "NEW_SOURCE_IP"
    """A use from an address the credential was never used from before.

    The credential's first ever use is not flagged: every address is new then, so the flag
    would carry no information.
    """

    ROLE_CHANGE_ON_DELETED = "ROLE_CHANGE_ON_DELETED"
    """Scoped roles changed on a deleted credential."""

    ROLE_CHANGE_ON_EXPIRED = "ROLE_CHANGE_ON_EXPIRED"
    """Scoped roles changed on an expired (not deleted) credential."""

    CHANGE_ON_DELETED = "CHANGE_ON_DELETED"
    """An update, an expiry or a second deletion of a deleted credential."""

    EVENT_BEFORE_CREATION = "EVENT_BEFORE_CREATION"
    """Any event other than a creation for a credential whose creation has not been seen."""

    DUPLICATE_CREATION = "DUPLICATE_CREATION"
    """A creation of a credential that was already created."""

    SEQUENCE_GAP = "SEQUENCE_GAP"
    """The sequence skips numbers: earlier events are missing (so far)."""

    SEQUENCE_DUPLICATE = "SEQUENCE_DUPLICATE"
    """Another event with the same credential and sequence was already recorded."""

    SEQUENCE_LATE = "SEQUENCE_LATE"
    """The sequence is older than the credential's last applied one, and not taken."""


SEQUENCE_ANOMALIES = frozenset(
    {Anomaly.SEQUENCE_GAP, Anomaly.SEQUENCE_DUPLICATE, Anomaly.SEQUENCE_LATE}
)
"""Flags about the order of arrival rather than about the fact itself."""

_ORDER = {anomaly: index for index, anomaly in enumerate(Anomaly)}


def in_order(anomalies: set[Anomaly] | frozenset[Anomaly]) -> tuple[Anomaly, ...]:
    """The given flags without repeats, in definition order."""
    return tuple(sorted(anomalies, key=_ORDER.__getitem__))
