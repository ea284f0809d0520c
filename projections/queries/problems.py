"""Validation failures of query input as (parameter, message) pairs, for people to read."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    """One rejected parameter (its API name; empty for the query as a whole) and why.

    ``column`` is the 1-based column (in characters) of the offending term when the
    parameter is a search query; its message names that column too.
    """

    parameter: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.parameter}: {self.message}" if self.parameter else self.message


def problems_of(error: ValidationError) -> list[Problem]:
    """The problems of a filter or page request that failed validation."""
    found = []
    for detail in error.errors(include_url=False, include_input=False):
        location = [part for part in detail["loc"] if isinstance(part, str)]
        parameter = location[-1] if location else ""
        message = detail["msg"].removeprefix("Value error, ")
        found.append(Problem(parameter, message))
    return found
