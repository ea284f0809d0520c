"""Errors the producer raises."""

from __future__ import annotations


class ProducerError(Exception):
    """Base class of the producer's errors."""


class BrokerUnavailableError(ProducerError):
    """The Kafka cluster did not answer within the configured time."""


class PublishError(ProducerError):
    """One or more events were not confirmed by the broker; none of them may be assumed stored."""

    def __init__(self, message: str, failed: int, total: int) -> None:
        super().__init__(message)
        self.failed = failed
        self.total = total


class TopicSetupError(ProducerError):
    """A topic could not be created or has settings that contradict the contract."""
