"""Errors the consumer side raises."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of the consumer's errors."""


class DeadLetterError(ConsumerError):
    """A refused message could not be written to the dead-letter topic; nothing was committed."""


class TopicUnavailableError(ConsumerError):
    """A topic could not be read: Kafka did not answer, or the topic does not exist."""


class ReplayError(ConsumerError):
    """A replay that cannot start or go on: no such topic, a non-empty target, Kafka
    unreachable."""
