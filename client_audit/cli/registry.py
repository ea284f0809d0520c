"""Every subcommand of client-audit, in the order --help lists them."""

from __future__ import annotations

import click

from client_audit.cli.as_of import as_of
from client_audit.cli.demo import demo
from client_audit.cli.emit import emit
from client_audit.cli.evidence import export_evidence, prove, verify_proof
from client_audit.cli.keys import keys
from client_audit.cli.project import project
from client_audit.cli.query import query
from client_audit.cli.query_access import access
from client_audit.cli.relay import deliveries, redeliver, relay
from client_audit.cli.replay import replay
from client_audit.cli.roles import roles
from client_audit.cli.search import search_command, searches
from client_audit.cli.serve import serve
from client_audit.cli.simulate import simulate
from client_audit.cli.tokens import tokens
from client_audit.cli.verify import verify
from client_audit.cli.verify_log import verify_log

query.add_command(access)
query.add_command(deliveries)

COMMANDS: list[click.Command] = [demo, emit, simulate, project, query, search_command, searches]
COMMANDS += [relay, redeliver, serve, tokens]
COMMANDS += [replay, verify, as_of, roles, verify_log, keys, prove, export_evidence, verify_proof]
