"""The search language's grammar: terms, negation, OR, quoting, values, and error messages
that name the offending term and its column. A fuzzer checks that nothing but SearchError
ever escapes the parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.model.anomalies import Anomaly
from projections.queries.search import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    QUALIFIERS,
    SearchError,
    SearchFilter,
    parse_search,
)
from projections.queries.search.tokens import Term, tokenize
from schemas.models import DenialReason, EventType, UseOutcome


def problems(query: str) -> list[tuple[int | None, str]]:
    with pytest.raises(SearchError) as caught:
        parse_search(query)
    assert all(problem.parameter == "q" for problem in caught.value.problems)
    return [(problem.column, problem.message) for problem in caught.value.problems]


def test_an_empty_query_selects_everything_newest_first() -> None:
    for query in ("", "   ", "\t\n"):
        assert parse_search(query) == SearchFilter()
    assert SearchFilter().newest_first is True


def test_terms_carry_their_columns_negation_qualifier_and_value() -> None:
    assert tokenize('  type:USED -outcome:ALLOWED "my laptop" -old user:"a b"') == [
        Term("type:USED", 3, False, "type", "USED"),
        Term("-outcome:ALLOWED", 13, True, "outcome", "ALLOWED"),
        Term('"my laptop"', 30, False, None, "my laptop"),
        Term("-old", 42, True, None, "old"),
        Term('user:"a b"', 47, False, "user", "a b"),
    ]


def test_quoted_values_resolve_escaped_quotes_and_backslashes_only() -> None:
    [term] = tokenize(r'credential:"a \"b\" c\\d \n"')
    assert term.value == 'a "b" c\\d \\n'


def test_a_repeated_qualifier_is_an_or_and_different_qualifiers_combine() -> None:
    parsed = parse_search("type:CREATED type:deleted user:alice user:bob -user:carol")
    assert parsed.event_types.any_of == (EventType.CREATED, EventType.DELETED)
    assert parsed.users.any_of == ("alice", "bob")
    assert parsed.users.none_of == ("carol",)


def test_every_qualifier_reads_its_values() -> None:
    parsed = parse_search(
        "credential:c1 client:k1 actor:expiry-sweeper correlation:r-9 role:admin "
        "outcome:denied reason:OUTSIDE-ALLOWED-CIDRS -reason:expired anomaly:SEQUENCE_GAP "
        "-anomaly:new_source_ip ip:10.1.2.3 ip:2001:DB8::1 network:10.0.0.0/8 "
        "-network:::ffff:0:0/96 after:2026-01-05T01:00:00+01:00 before:2026-01-06T00:00:00Z "
        "sort:oldest laptop"
    )
    assert parsed.credentials.any_of == ("c1",)
    assert parsed.clients.any_of == ("k1",)
    assert parsed.actors.any_of == ("expiry-sweeper",)
    assert parsed.correlations.any_of == ("r-9",)
    assert parsed.roles.any_of == ("admin",)
    assert parsed.outcomes.any_of == (UseOutcome.DENIED,)
    assert parsed.reasons.any_of == (DenialReason.OUTSIDE_ALLOWED_CIDRS,)
    assert parsed.reasons.none_of == (DenialReason.EXPIRED,)
    assert parsed.anomalies.any_of == (Anomaly.SEQUENCE_GAP,)
    assert parsed.anomalies.none_of == (Anomaly.NEW_SOURCE_IP,)
    assert parsed.addresses.any_of == ("10.1.2.3/32", "2001:db8::1/128")
    assert parsed.networks.any_of == ("10.0.0.0/8",)
    assert parsed.networks.none_of == ("::ffff:0.0.0.0/96",)
    assert parsed.start == datetime(2026, 1, 5, tzinfo=UTC)
    assert parsed.end == datetime(2026, 1, 6, tzinfo=UTC)
    assert parsed.newest_first is False
    assert parsed.words.any_of == ("laptop",)


def test_anomaly_any_keeps_flagged_and_its_negation_unflagged_entries() -> None:
    assert parse_search("anomaly:any").flagged is True
    assert parse_search("-anomaly:ANY").flagged is False
    assert parse_search("type:USED").flagged is None


def test_qualifier_names_are_case_insensitive_and_free_words_may_hold_colons_if_quoted() -> None:
    assert parse_search("TYPE:used").event_types.any_of == (EventType.USED,)
    assert parse_search('"key:v2"').words.any_of == ("key:v2",)
    assert parse_search("2001:db8::1").words.any_of == ("2001:db8::1",)


def test_an_unknown_qualifier_is_named_with_the_closest_one() -> None:
    [(column, message)] = problems("user:a tpye:USED")
    assert column == 8
    assert message.startswith(
        "column 8, 'tpye:USED': 'tpye' is not a qualifier (did you mean type:?"
    )


def test_bad_values_name_the_term_and_what_is_expected() -> None:
    assert problems("type:USD") == [(1, (
        "column 1, 'type:USD': is not an event type (CREATED, ROLES_SCOPED, UPDATED, USED, "
        "EXPIRED, DELETED); did you mean USED?"
    ))]
    [(_, message)] = problems("network:10.0.0.1/8")
    assert "has host bits set" in message and "did you mean 10.0.0.0/8?" in message
    assert problems("ip:10.0.0.0/8") == [
        (1, "column 1, 'ip:10.0.0.0/8': takes one address; use network: for a CIDR")
    ]
    [(_, message)] = problems("ip:fe80::1%eth0")
    assert "zone ids" in message
    [(_, message)] = problems("after:2026-01-05")
    assert "has no UTC offset" in message
    [(_, message)] = problems("before:yesterday")
    assert "is not an ISO-8601 instant with an offset" in message
    assert problems("sort:random") == [(1, "column 1, 'sort:random': is newest or oldest")]
    assert problems("outcome:") == [
        (1, "column 1, 'outcome:': outcome: needs a value (e.g. outcome:DENIED)")
    ]


def test_every_offending_term_is_reported_in_column_order() -> None:
    found = problems("type:X ok -after:2026-01-01T00:00:00Z sort:oldest sort:newest a\"b -")
    assert [column for column, _message in found] == [1, 11, 51, 63, 67]
    assert "cannot be negated" in found[1][1]
    assert "is given twice (first at column 39)" in found[2][1]
    assert "a quote may only open a value" in found[3][1]
    assert "a lone '-' negates nothing" in found[4][1]


def test_malformed_quotes_and_dashes() -> None:
    assert problems('user:a "never closed') == [
        (8, "column 8, '\"never closed': the quote opened at column 8 is never closed")
    ]
    assert problems('"closed"then') == [
        (1, "column 1, '\"closed\"then': a closing quote must end the term (add a space)")
    ]
    assert problems("--x") == [
        (1, "column 1, '--x': one '-' negates a term; quote a value that starts with '-'")
    ]
    assert problems('""') == [(1, "column 1, '\"\"': an empty word matches everything; remove it")]


def test_contradictions_are_refused_at_the_later_term() -> None:
    assert problems("outcome:ALLOWED reason:EXPIRED") == [(17, (
        "column 17, 'reason:EXPIRED': reason: applies to DENIED uses, and outcome:ALLOWED "
        "excludes them"
    ))]
    assert parse_search("outcome:ALLOWED outcome:DENIED reason:EXPIRED").reasons.any_of
    [(column, message)] = problems(
        "after:2026-01-02T00:00:00Z before:2026-01-01T00:00:00Z"
    )
    assert column == 28 and "must be later than after: (column 1)" in message
    [(column, _)] = problems("anomaly:any -anomaly:any")
    assert column == 13
    [(column, message)] = problems("-anomaly:any anomaly:USE_AFTER_EXPIRY")
    assert column == 14 and "excludes every flagged entry" in message


def test_control_characters_are_refused_by_code_point_and_column() -> None:
    assert problems("user:a\x1b[2J") == [
        (7, "column 7: holds the control or non-character U+001B")
    ]
    assert problems("x\x00") == [(2, "column 2: holds the control or non-character U+0000")]
    assert problems("a\u2028b") == [(2, "column 2: holds the control or non-character U+2028")]


def test_values_longer_than_a_filter_accepts_are_refused() -> None:
    [(column, message)] = problems("user:" + "u" * 513)
    assert column == 1 and "at most 512 characters" in message
    assert "'user:uuuu" in message and "…'" in message


def test_the_query_length_and_term_count_are_bounded() -> None:
    [(column, message)] = problems("x" * (MAX_QUERY_LENGTH + 1))
    assert column == MAX_QUERY_LENGTH + 1
    assert message.endswith(f"at most {MAX_QUERY_LENGTH}")
    assert len(parse_search(" ".join(["w"] * MAX_TERMS)).words.any_of) == 1
    [(column, message)] = problems(" ".join(["w"] * (MAX_TERMS + 1)))
    assert column == 2 * MAX_TERMS + 1 and f"at most {MAX_TERMS} terms" in message


def test_hostile_text_in_a_message_is_escaped_not_echoed() -> None:
    [(_, message)] = problems("type:\u202eDESU")
    assert "\u202e" not in message and "\\u202e" in message


def test_sql_looking_values_are_plain_values() -> None:
    parsed = parse_search("credential:\"x' OR '1'='1\" \"'; DROP TABLE audit_log; --\"")
    assert parsed.credentials.any_of == ("x' OR '1'='1",)
    assert parsed.words.any_of == ("'; DROP TABLE audit_log; --",)


def test_every_qualifier_has_an_example_that_parses() -> None:
    for qualifier in QUALIFIERS.values():
        parse_search(qualifier.example)


QUERY_TEXT = st.text(
    alphabet=st.sampled_from(
        [*'abcdeiloprstuvwxyz-:" \\\t/.0123456789ABEFIUSDZT%_', "\x00", "\u202e", "é", "\n"]
    ),
    max_size=120,
)


@settings(max_examples=400, deadline=None)
@given(QUERY_TEXT)
def test_the_parser_returns_a_filter_or_raises_search_error_only(query: str) -> None:
    try:
        parsed = parse_search(query)
    except SearchError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.column is None or 1 <= problem.column <= len(query) + 1
            assert problem.message
        return
    assert isinstance(parsed, SearchFilter)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(QUALIFIERS)), max_size=6), st.text(max_size=30))
def test_qualified_terms_with_any_value_parse_or_fail_cleanly(names: list[str], value: str) -> None:
    query = " ".join(f"{name}:{value}" for name in names)
    try:
        parse_search(query)
    except SearchError as exc:
        assert exc.problems
