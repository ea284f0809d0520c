"""``python -m client_audit.cli`` runs the client-audit command."""

from client_audit.cli.main import main

main()
