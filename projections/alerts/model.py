"""An alert: one flagged audit entry, with what traces it to its evidence."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.model.anomalies import Anomaly, in_order

ALERT_NAMESPACE = uuid.UUID("6f1c2b8e-3d4a-5e6f-8a9b-0c1d2e3f4a5b")
"""The UUIDv5 namespace of alert ids (fixed forever: ids must not change between runs)."""


def alert_id_of(event_id: str, kinds: Iterable[Anomaly]) -> str:
    """The id of the alert of an event flagged with ``kinds``: the same event and kinds give
    the same id on every run, so a re-sent alert can be recognised by its id."""
    names = ",".join(kind.value for kind in in_order(frozenset(kinds)))
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{event_id}/{names}"))


@dataclass(frozen=True)
class EntryPosition:
    """Where the flagged entry is: its Kafka position, its leaf in the partition's Merkle
    log, and its chain hash (the evidence bundle and proofs of the entry use these)."""

    topic: str
    partition: int
    offset: int
    leaf_index: int
    chain_hash: str


@dataclass(frozen=True)
class Alert:
    """One flagged audit entry as alerts carry it.

    ``silenced`` is None for an alert the rules let through, else why it was silenced (it is
    still recorded and still published on the alert topic, marked so).
    """

    alert_id: str
    kinds: tuple[Anomaly, ...]
    event_id: str
    event_type: str
    credential_id: str
    user_id: str
    client_id: str
    source_ip: str | None
    occurred_at: datetime
    flagged_at: datetime
    position: EntryPosition
    event: dict[str, Any]
    silenced: str | None = None
