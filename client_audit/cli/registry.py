"""Every subcommand of client-audit, in the order --help lists them."""

from __future__ import annotations

import click

from client_audit.cli.demo import demo
from client_audit.cli.emit import emit
from client_audit.cli.project import project
from client_audit.cli.simulate import simulate

COMMANDS: list[click.Command] = [demo, emit, simulate, project]
