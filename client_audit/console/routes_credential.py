"""The credential page: current state, every event with what it changed, uses grouped by
source address and network, and the credential as it was at any instant (``?at=``).

The as-of state is refolded from the recorded events that occurred at or before the
instant (:func:`projections.forensics.as_of.state_as_of`), so it is what the credential
was then, not what the projection says now.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from client_audit.api.database import ReadOnlyConnection
from client_audit.console.auth import PREFIX, ConsoleAuth
from client_audit.console.params import instant_parameter
from client_audit.console.templates import pages_of
from projections.forensics.as_of import StateAsOf, state_as_of
from projections.queries import credential_state
from projections.queries.timeline import credential_timeline
from projections.queries.use_groups import group_uses
from projections.queries.values import MAX_TEXT_LENGTH

router = APIRouter(prefix=PREFIX, include_in_schema=False)

TIMELINE_SHOWN = 500
"""Timeline steps a page shows (the newest); the search page lists every entry."""

CHANGE_LABELS = {
    "scoped_roles": "roles",
    "allow_source_cidr": "allowed CIDRs",
    "display_name": "name",
    "expires_time": "expiry",
    "deleted_at": "deleted at",
    "status": "status",
}


@router.get("/credentials/{credential_id:path}")
def credential_page(
    request: Request,
    reader: ConsoleAuth,
    connection: ReadOnlyConnection,
    credential_id: Annotated[str, Path(min_length=1, max_length=MAX_TEXT_LENGTH)],
    at: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One credential: its state now (and at ``at``), its timeline and its uses."""
    as_of: StateAsOf | None = None
    existed_then = True
    instant = instant_parameter("at", at)
    state = credential_state(connection, credential_id)
    if state is None:
        raise HTTPException(404, f"no credential {credential_id!r} is known")
    timeline = credential_timeline(connection, credential_id)
    if instant is not None:
        folded = state_as_of(timeline.events, instant)
        existed_then = folded is not None
        as_of = None if folded is None else StateAsOf(instant, folded)
    steps = timeline.newest_first()
    by_address, by_network = group_uses((step.entry for step in steps), state.allow_source_cidr)
    return pages_of(request).render(
        request, "credential.html", reader=reader, active="search",
        credential=state, steps=steps[:TIMELINE_SHOWN], total_steps=len(steps),
        by_address=by_address, by_network=by_network, at=at or "", instant=instant,
        as_of=as_of, existed_then=existed_then, change_labels=CHANGE_LABELS,
    )
