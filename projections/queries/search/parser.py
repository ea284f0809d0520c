"""Parsing a search query into a :class:`SearchFilter`: every term read and checked, every
offending term reported with its column, nothing but values reaching the filter.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pydantic

from projections.queries.problems import Problem, problems_of
from projections.queries.search.errors import PARAMETER, SearchError, term_problem
from projections.queries.search.model import SearchFilter
from projections.queries.search.qualifiers import ANY_ANOMALY, Sort, qualifier_named, read_text
from projections.queries.search.tokens import Term, scan
from schemas.models import UseOutcome


class _Collected:
    """The values read so far: alternatives and exclusions per filter field, the single-use
    qualifiers with their terms, and the problems found."""

    def __init__(self) -> None:
        self.any_of: dict[str, list[tuple[Term, Any]]] = defaultdict(list)
        self.none_of: dict[str, list[tuple[Term, Any]]] = defaultdict(list)
        self.single: dict[str, tuple[Term, Any]] = {}
        self.flags: list[tuple[Term, bool]] = []
        self.problems: list[Problem] = []

    def add(self, term: Term) -> None:
        try:
            self._add(term)
        except ValueError as exc:
            self.problems.append(term_problem(term.column, term.text, str(exc)))

    def _add(self, term: Term) -> None:
        if term.qualifier is None:
            if not term.value.strip():
                raise ValueError("an empty word matches everything; remove it")
            self._alternative("words", term, read_text(term.value))
            return
        qualifier = qualifier_named(term.qualifier)
        if term.negated and not qualifier.negatable:
            raise ValueError(f"{qualifier.name}: cannot be negated")
        if not term.value:
            raise ValueError(f"{qualifier.name}: needs a value (e.g. {qualifier.example})")
        value = qualifier.read(term.value)
        if qualifier.repeatable:
            if qualifier.field == "anomalies" and value == ANY_ANOMALY:
                self.flags.append((term, not term.negated))
            else:
                self._alternative(qualifier.field, term, value)
            return
        earlier = self.single.get(qualifier.field)
        if earlier is not None:
            raise ValueError(
                f"{qualifier.name}: is given twice (first at column {earlier[0].column})"
            )
        self.single[qualifier.field] = (term, value)

    def _alternative(self, field: str, term: Term, value: Any) -> None:
        (self.none_of if term.negated else self.any_of)[field].append((term, value))

    def _problem(self, term: Term, message: str) -> None:
        self.problems.append(term_problem(term.column, term.text, message))

    def check_together(self) -> None:
        """Terms that contradict one another, reported at one of them."""
        if len({flagged for _term, flagged in self.flags}) > 1:
            self._problem(self.flags[-1][0], "anomaly:any and -anomaly:any exclude each other")
        elif self.flags and not self.flags[0][1] and self.any_of["anomalies"]:
            self._problem(self.any_of["anomalies"][0][0],
                          "-anomaly:any excludes every flagged entry")
        outcomes = {value for _term, value in self.any_of["outcomes"]}
        if outcomes == {UseOutcome.ALLOWED} and self.any_of["reasons"]:
            self._problem(self.any_of["reasons"][0][0],
                          "reason: applies to DENIED uses, and outcome:ALLOWED excludes them")
        start, end = self.single.get("start"), self.single.get("end")
        if start is not None and end is not None and end[1] <= start[1]:
            self._problem(end[0], f"must be later than after: (column {start[0].column})")

    def filter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            field: {
                "any_of": [value for _term, value in self.any_of.get(field, [])],
                "none_of": [value for _term, value in self.none_of.get(field, [])],
            }
            for field in {*self.any_of, *self.none_of}
        }
        for field, (_term, value) in self.single.items():
            values[field] = value is Sort.NEWEST if field == "newest_first" else value
        if self.flags:
            values["flagged"] = self.flags[0][1]
        return values


def parse_search(query: str) -> SearchFilter:
    """The filter ``query`` asks for; SearchError lists every offending term and its column."""
    collected = _Collected()
    terms, collected.problems = scan(query)
    for term in terms:
        collected.add(term)
    collected.check_together()
    if collected.problems:
        raise SearchError(collected.problems)
    try:
        return SearchFilter.model_validate(collected.filter_values())
    except pydantic.ValidationError as exc:
        raise SearchError([Problem(PARAMETER, str(each)) for each in problems_of(exc)]) from None
