"""Errors of the token store and the access log."""

from __future__ import annotations


class AccessError(Exception):
    """Base class of the token store's and access log's errors."""


class TokenRequestError(AccessError):
    """A token cannot be issued or revoked as asked (bad name, taken name, bad expiry)."""


class UnknownTokenError(AccessError):
    """No token has the given name."""


class AccessLogError(AccessError):
    """The access log cannot be appended to."""
