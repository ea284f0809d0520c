"""The search language: GitHub-style qualifiers over the audit log, for CLI, API and console.

``credential:ID user:ID client:ID actor:ID correlation:ID type:USED outcome:DENIED
reason:EXPIRED anomaly:KIND ip:ADDR network:CIDR role:R after:INSTANT before:INSTANT
sort:newest|oldest`` and free words (matched against display names). ``-`` negates a term;
a qualifier repeated is an OR of its values; different qualifiers AND. Values may be
double-quoted. :func:`parse_search` turns the text into a validated :class:`SearchFilter`
(or raises :class:`SearchError` naming each offending term and its column);
:func:`search` answers it one keyset page at a time.
"""

from projections.queries.search.errors import SearchError
from projections.queries.search.model import SearchFilter, Terms
from projections.queries.search.parser import parse_search
from projections.queries.search.qualifiers import QUALIFIERS
from projections.queries.search.run import search, search_page_request
from projections.queries.search.tokens import MAX_QUERY_LENGTH, MAX_TERMS

__all__ = [
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "QUALIFIERS",
    "SearchError",
    "SearchFilter",
    "Terms",
    "parse_search",
    "search",
    "search_page_request",
]
