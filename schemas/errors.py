"""Errors raised by the event contract: invalid values, undecodable and unencodable messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class EventContractError(Exception):
    """Base class of every error the event contract raises."""


@dataclass(frozen=True)
class Problem:
    """One invalid field: its dotted path (schema field names) and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidEventError(EventContractError, ValueError):
    """An event, or one of its parts, holds a value the contract does not allow."""

    def __init__(self, subject: str, problems: Sequence[Problem]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        listed = "; ".join(str(problem) for problem in self.problems)
        super().__init__(f"invalid {subject}: {listed}")


class DecodeError(EventContractError):
    """Bytes that are not a decodable lifecycle event under any known schema version."""


class EncodeError(EventContractError):
    """An event that could not be serialised with its schema."""
