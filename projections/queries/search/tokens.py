"""Splitting a search query into terms: ``[-][qualifier:]value``, values bare or quoted.

Terms are separated by spaces (tabs and line breaks count as spaces). A term is a free word
or ``qualifier:value``; a leading ``-`` negates it. A value is a run of non-space
characters, or double-quoted text in which ``\\"`` is a quote and ``\\\\`` a backslash (any
other backslash is itself). Columns count characters from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.queries.problems import Problem
from projections.queries.search.errors import SearchError, term_problem
from schemas.limits import FORBIDDEN_IN_TEXT, describe

MAX_QUERY_LENGTH = 4096
"""Characters in one search query."""

MAX_TERMS = 64
"""Terms in one search query."""

SPACES = frozenset(" \t\n\r")
"""What separates terms."""

QUOTE = '"'
ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class Term:
    """One term as written: where it starts, whether negated, its qualifier and value."""

    text: str
    """The term exactly as written, for messages."""
    column: int
    """1-based column of its first character."""
    negated: bool
    qualifier: str | None
    """The qualifier as written (None: a free word)."""
    value: str
    """The value with quotes and escapes resolved."""


class _MalformedTermError(Exception):
    """A term that cannot be read; ``fatal`` when the rest of the query cannot be split."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


class _Reader:
    """A cursor over the query text, naming problems by the column a term starts at."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.index = 0

    def at_end(self) -> bool:
        return self.index >= len(self.query)

    def peek(self) -> str:
        return self.query[self.index] if self.index < len(self.query) else ""

    def at_space(self) -> bool:
        return self.peek() in SPACES and not self.at_end()

    def quoted(self) -> str:
        """The quoted value that starts at the current ``"``; the index moves past it."""
        opening = self.index
        self.index += 1
        characters: list[str] = []
        while not self.at_end():
            character = self.peek()
            if character == QUOTE:
                self.index += 1
                if not self.at_end() and not self.at_space():
                    raise _MalformedTermError("a closing quote must end the term (add a space)")
                return "".join(characters)
            if character == ESCAPE and self.query[self.index + 1:self.index + 2] in (QUOTE, ESCAPE):
                characters.append(self.query[self.index + 1])
                self.index += 2
                continue
            characters.append(character)
            self.index += 1
        raise _MalformedTermError(
            f"the quote opened at column {opening + 1} is never closed", fatal=True
        )

    def bare(self) -> str:
        """A run of non-space characters; a quote inside it is refused."""
        begin = self.index
        while not self.at_end() and not self.at_space():
            if self.peek() == QUOTE:
                self.index += 1
                raise _MalformedTermError("a quote may only open a value: quote the whole value")
            self.index += 1
        return self.query[begin:self.index]


def _character_problems(query: str) -> list[Problem]:
    """The first character no query may hold (controls other than spaces, surrogates …)."""
    for index, character in enumerate(query):
        if character not in SPACES and FORBIDDEN_IN_TEXT.match(character):
            return [term_problem(
                index + 1, None, f"holds the control or non-character {describe(character)}"
            )]
    return []


def _qualifier_end(query: str, start: int) -> int | None:
    """The index of the ``:`` ending a qualifier name that starts at ``start``, if any."""
    index = start
    while index < len(query) and (query[index].isascii() and query[index].isalpha()):
        index += 1
    if index > start and query[index:index + 1] == ":":
        return index
    return None


def scan(query: str) -> tuple[list[Term], list[Problem]]:
    """The well-formed terms of ``query`` in order, and a problem for each malformed one.

    A malformed term is skipped up to the next space and scanning goes on, except after an
    unclosed quote or past the length and term limits, where it stops.
    """
    if len(query) > MAX_QUERY_LENGTH:
        return [], [term_problem(
            MAX_QUERY_LENGTH + 1, None,
            f"the query is {len(query)} characters long; at most {MAX_QUERY_LENGTH}",
        )]
    problems = _character_problems(query)
    if problems:
        return [], problems
    reader = _Reader(query)
    terms: list[Term] = []
    while True:
        while reader.at_space():
            reader.index += 1
        if reader.at_end():
            return terms, problems
        start = reader.index
        if len(terms) + len(problems) == MAX_TERMS:
            problems.append(term_problem(
                start + 1, query[start:], f"a query holds at most {MAX_TERMS} terms"
            ))
            return terms, problems
        try:
            terms.append(_term(reader, start))
        except _MalformedTermError as exc:
            if exc.fatal:
                problems.append(term_problem(start + 1, query[start:], exc.message))
                return terms, problems
            while not reader.at_end() and not reader.at_space():
                reader.index += 1
            problems.append(term_problem(start + 1, query[start:reader.index], exc.message))


def tokenize(query: str) -> list[Term]:
    """The terms of ``query``, in order; SearchError names every malformed one."""
    terms, problems = scan(query)
    if problems:
        raise SearchError(problems)
    return terms


def _term(reader: _Reader, start: int) -> Term:
    negated = reader.peek() == "-"
    if negated:
        reader.index += 1
        if reader.at_end() or reader.at_space():
            raise _MalformedTermError("a lone '-' negates nothing: write -qualifier:value")
        if reader.peek() == "-":
            reader.index += 1
            raise _MalformedTermError("one '-' negates a term; quote a value that starts with '-'")
    qualifier: str | None = None
    colon = _qualifier_end(reader.query, reader.index)
    if colon is not None:
        qualifier = reader.query[reader.index:colon]
        reader.index = colon + 1
    value = reader.quoted() if reader.peek() == QUOTE else reader.bare()
    return Term(reader.query[start:reader.index], start + 1, negated, qualifier, value)
