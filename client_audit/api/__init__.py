"""The read-only HTTP query API: the same questions as ``client-audit query``, over HTTP."""

from client_audit.api.app import create_app

__all__ = ["create_app"]
