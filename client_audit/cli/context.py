"""What every subcommand receives from the group: the settings read once at the entry point."""

from __future__ import annotations

from dataclasses import dataclass

import click

from client_audit.settings import Settings


@dataclass
class CliContext:
    settings: Settings


def settings_of(ctx: click.Context) -> Settings:
    state = ctx.find_object(CliContext)
    if state is None:
        raise click.UsageError("internal: settings were not loaded")
    return state.settings
