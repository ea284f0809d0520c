"""Errors the consumer side raises."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of the consumer's errors."""


class DeadLetterError(ConsumerError):
    """A refused message could not be written to the dead-letter topic; nothing was committed."""
