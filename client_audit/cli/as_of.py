"""client-audit as-of: every matching credential as it was at an instant, refolded from the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_type_hints

import click

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import Printed, format_option, non_blank, print_rows, reading
from client_audit.cli.params import INSTANT
from projections.forensics.as_of import StateAsOf, states_as_of
from projections.forensics.candidates import is_recorded
from projections.model.credential import CredentialState, CredentialStatus


def _as_of_annotations() -> dict[str, Any]:
    """The instant and the effective status, then every field of a credential's state."""
    return {"as_of": datetime, "effective_status": CredentialStatus,
            **get_type_hints(CredentialState)}


class CredentialAsOf(Printed):
    """A credential's state at an instant (the fields of
    :class:`~projections.model.credential.CredentialState`), with its status in effect then."""

    __annotations__ = _as_of_annotations()


COLUMNS = (
    "credentialId", "userId", "displayName", "effectiveStatus", "scopedRoles",
    "allowSourceCidr", "expiresTime", "deletedAt", "lastSequence", "lastChangedAt",
)


def _row(found: StateAsOf) -> CredentialAsOf:
    return CredentialAsOf.model_validate(
        {"as_of": found.instant, "effective_status": found.effective_status,
         **found.state._asdict()}
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
