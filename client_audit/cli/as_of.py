"""client-audit as-of: every matching credential as it was at an instant, refolded from the log."""

from __future__ import annotations

from datetime import datetime

import click

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import Printed, format_option, non_blank, print_rows, reading
from client_audit.cli.params import INSTANT
from projections.as_of import StateAsOf, states_as_of
from projections.event_history import is_recorded


class CredentialAsOf(Printed):
    """A credential's state at an instant."""

    as_of: datetime
    credential_id: str
    user_id: str
    client_id: str
    display_name: str | None
    status: str
    effective_status: str
    scoped_roles: list[str]
    allow_source_cidr: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    last_used_at: datetime | None
    expires_time: datetime | None
    deleted_at: datetime | None
    last_sequence: int
    last_event_id: str
    last_event_type: str
    last_changed_at: datetime
    seen_source_ips: list[str]
    anomaly_count: int


COLUMNS = (
    "credentialId", "userId", "displayName", "effectiveStatus", "scopedRoles",
    "allowSourceCidr", "expiresTime", "deletedAt", "lastSequence", "lastChangedAt",
)


def _row(found: StateAsOf) -> CredentialAsOf:
    state = found.state
    return CredentialAsOf(
        as_of=found.instant,
        credential_id=state.credential_id,
        user_id=state.user_id,
        client_id=state.client_id,
        display_name=state.display_name,
        status=state.status.value,
        effective_status=found.effective_status.value,
        scoped_roles=list(state.scoped_roles),
        allow_source_cidr=list(state.allow_source_cidr),
        created_at=state.created_at,
        updated_at=state.updated_at,
        last_used_at=state.last_used_at,
        expires_time=state.expires_time,
        deleted_at=state.deleted_at,
        last_sequence=state.last_sequence,
        last_event_id=str(state.last_event_id),
        last_event_type=state.last_event_type.value,
        last_changed_at=state.last_changed_at,
        seen_source_ips=list(state.seen_source_ips),
        anomaly_count=state.anomaly_count,
    )


@click.command("as-of")
@click.argument("instant", type=INSTANT)
@click.option("--credential", "credential_id", callback=non_blank, metavar="ID",
              help="Only this credential.")
@click.option("--owner", "user_id", callback=non_blank, metavar="ID",
              help="Only credentials of this user.")
@click.option("--role", callback=non_blank,
              help="Only credentials holding this scoped role then (scoped and not deleted).")
@format_option
@click.pass_context
def as_of(ctx: click.Context, instant: datetime, credential_id: str | None, user_id: str | None,
          role: str | None, output: str | None) -> None:
    """Every matching credential as it was at INSTANT (ISO-8601 with offset, e.g.
    2026-03-03T10:00:00Z): status, scoped roles, allowed CIDRs, expiry, deletion...

    Refolds each credential's recorded events that occurred at or before INSTANT (an event
    at exactly INSTANT counts) with the projection's own fold. Credentials created later are
    left out. effectiveStatus is also `expired` when the expiry instant had passed; status
    follows the events only. Filters combine.
    """
    settings = settings_of(ctx)
    with reading(settings.database_url, "projection") as connection:
        if credential_id is not None and not is_recorded(connection, credential_id):
            raise click.ClickException(f"no events of credential {credential_id!r} are recorded")
        found = (
            _row(state)
            for state in states_as_of(
                connection, instant, credential_id=credential_id, user_id=user_id, role=role
            )
        )
        written = print_rows(found, CredentialAsOf, output, COLUMNS,
                             title=f"credentials as of {instant.isoformat()}")
    if written == 0:
        click.echo(f"no matching credential existed at {instant.isoformat()}", err=True)
