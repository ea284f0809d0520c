"""client-audit roles: who held a scoped role, through which credential, and when."""

from __future__ import annotations

from datetime import datetime

import click

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import (
    Printed,
    format_option,
    instant_text,
    non_blank,
    print_rows,
    reading,
)
from client_audit.cli.params import INSTANT
from projections.forensics.role_history import RoleInterval, role_history


class RoleHolding(Printed):
    """One interval during which a credential held the role."""

    role: str
    credential_id: str
    user_id: str
    client_id: str
    held_from: datetime
    held_until: datetime | None
    still_held: bool
    granted_by: str
    ended_by: str | None
    status_changes: list[str]


COLUMNS = (
    "credentialId", "userId", "heldFrom", "heldUntil", "grantedBy", "endedBy", "statusChanges",
)


def _row(interval: RoleInterval) -> RoleHolding:
    return RoleHolding(
        role=interval.role,
        credential_id=interval.credential_id,
        user_id=interval.user_id,
        client_id=interval.client_id,
        held_from=interval.held_from,
        held_until=interval.held_until,
        still_held=interval.held_until is None,
        granted_by=interval.granted_by.value,
        ended_by=None if interval.ended_by is None else interval.ended_by.value,
        status_changes=[
            f"{instant_text(change.at)} {change.status.value}" for change in interval.status_changes
        ],
    )


@click.command()
@click.option("--role", required=True, callback=non_blank, help="The scoped role, e.g. admin.")
@click.option("--from", "start", type=INSTANT,
              help="Window start, inclusive (ISO-8601 with offset) [default: the beginning].")
@click.option("--to", "end", type=INSTANT,
              help="Window end, exclusive (ISO-8601 with offset) [default: now and on].")
@format_option
@click.pass_context
def roles(ctx: click.Context, role: str, start: datetime | None, end: datetime | None,
          output: str | None) -> None:
    """Which credentials (and owners) held --role at some instant of [--from, --to), with
    the intervals they held it.

    A credential holds a role from the event that scopes it in until the event that scopes
    it out or deletes the credential (endedBy); removed and re-added gives two intervals.
    An open interval (stillHeld) is held to this day. Expiry does not end holding, since an
    update can extend the expiry with the roles intact; statusChanges lists the expiries
    and reactivations while it was held. Intervals are shown whole, not cut to the window.
    """
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(f"must be after --from ({start.isoformat()})",
                                 param_hint="--to")
    settings = settings_of(ctx)
    with reading(settings.database_url, "projection") as connection:
        intervals = (_row(interval) for interval in role_history(connection, role, start, end))
        written = print_rows(intervals, RoleHolding, output, COLUMNS,
                             title=f"holders of role {role}")
    if written == 0:
        click.echo(f"no credential held role {role!r} in that window", err=True)
