"""The one error a search query can raise: each offending term, its column and why."""

from __future__ import annotations

from collections.abc import Sequence

from projections.queries.problems import Problem

PARAMETER = "q"
"""The name of a search query among request parameters."""

SHOWN_TERM = 60
"""Characters of an offending term quoted in a message."""


def shown_term(text: str) -> str:
    """A term fit to quote in a message: cut short, quoted, non-printables escaped."""
    cut = text if len(text) <= SHOWN_TERM else text[:SHOWN_TERM] + "…"
    return repr(cut)


def term_problem(column: int, text: str | None, message: str) -> Problem:
    """The problem of the term written ``text`` at ``column`` (None: not one term)."""
    where = f"column {column}" if text is None else f"column {column}, {shown_term(text)}"
    return Problem(PARAMETER, f"{where}: {message}", column)


class SearchError(ValueError):
    """A search query that cannot be parsed or whose values are invalid.

    ``problems`` lists every offending term (at least one), in column order.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a SearchError needs at least one problem")
        self.problems = tuple(sorted(problems, key=lambda problem: problem.column or 0))
        super().__init__("; ".join(problem.message for problem in self.problems))
