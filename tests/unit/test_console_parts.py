"""The console's parts without a server: sessions and their expiry, where sign-in may send a
browser, the commands offered for copying, and the geometry of the charts."""

from __future__ import annotations

import shlex
from datetime import UTC, date, datetime, timedelta

import pytest

from client_audit.console.auth import HOME_PATH, safe_next
from client_audit.console.charts import anomaly_chart, role_timeline
from client_audit.console.commands import cli_command, curl_command, shell_word
from client_audit.console.sessions import SessionStore
from projections.forensics.role_history import RoleInterval, StatusChange
from projections.model.anomalies import Anomaly
from projections.model.credential import CredentialStatus
from projections.queries.anomaly_counts import DayCount
from schemas.models import EventType


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_found_by_its_cookie_value_and_holds_no_token() -> None:
    store = SessionStore()
    session_id, session = store.open(3)
    assert store.find(session_id) is session and session.token_index == 3
    assert len(session_id) >= 43 and session.form_token != session_id
    assert store.find(session_id + "x") is None
    assert store.find("") is None and store.find(None) is None
    assert store.find("x" * 10_000) is None
    store.close(session_id)
    assert store.find(session_id) is None


def test_sessions_end_when_idle_and_at_their_lifetime() -> None:
    clock = Clock()
    store = SessionStore(idle_s=60, lifetime_s=300, clock=clock)
    idle, _ = store.open(0)
    busy, _ = store.open(0)
    for _ in range(4):
        clock.now += 50
        assert store.find(busy) is not None
    assert store.find(idle) is None
    clock.now += 101
    assert store.find(busy) is None


def test_the_session_store_is_bounded() -> None:
    store = SessionStore(capacity=2)
    first, _ = store.open(0)
    second, _ = store.open(0)
    store.find(first)
    third, _ = store.open(0)
    assert len(store) == 2
    assert store.find(second) is None
    assert store.find(first) is not None and store.find(third) is not None


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/search?q=type%3AUSED", "/console/search?q=type%3AUSED"),
    ("/console", "/console"),
    ("/console/credentials/a%2Fb", "/console/credentials/a%2Fb"),
    (None, HOME_PATH),
    ("", HOME_PATH),
    ("//evil.example/console/", HOME_PATH),
    ("https://evil.example/console/search", HOME_PATH),
    ("/consoleevil", HOME_PATH),
    ("/v1/trail", HOME_PATH),
    ("/console/\\evil", HOME_PATH),
    ("/console/search\r\nLocation: https://evil.example", HOME_PATH),
    ("/console/sign-in?next=/console/search", HOME_PATH),
    ("/console/" + "x" * 3000, HOME_PATH),
])
def test_sign_in_returns_only_to_console_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize("query", [
    "type:USED", "user:alice -outcome:ALLOWED", '"it\'s mine"', "", "a  b", "$(rm -rf /)",
    "`id`", "x; echo pwned", "\\",
])
def test_printable_queries_are_one_shell_word(query: str) -> None:
    assert shlex.split(shell_word(query)) == [query]
    assert cli_command(query).startswith("client-audit search ")


def test_a_query_starting_with_a_dash_follows_a_double_dash() -> None:
    assert cli_command("-outcome:ALLOWED") == "client-audit search -- -outcome:ALLOWED"


def test_non_printable_characters_are_escaped_in_the_shell_text() -> None:
    word = shell_word("name:\u202eevil'\U0001d400")
    assert word == "$'name:\\u202eevil\\'\U0001d400'"
    assert word.isprintable()
    hidden = shell_word("a\u200bb")
    assert hidden == "$'a\\u200bb'"


def test_the_curl_call_is_percent_encoded_and_reads_the_token_from_a_variable() -> None:
    command = curl_command("http://127.0.0.1:8080/", "user:alice \u202e 'x'")
    assert command == (
        'curl -sS -H "Authorization: Bearer $CLIENT_AUDIT_TOKEN" '
        "'http://127.0.0.1:8080/v1/search?q=user%3Aalice+%E2%80%AE+%27x%27'"
    )
    assert command.isascii()


def test_the_anomaly_chart_stacks_each_day_in_kind_order() -> None:
    first = date(2026, 3, 1)
    counts = [
        DayCount(first, Anomaly.NEW_SOURCE_IP, 3),
        DayCount(first, Anomaly.USE_AFTER_DELETION, 1),
        DayCount(date(2026, 3, 3), Anomaly.SEQUENCE_GAP, 2),
    ]
    chart = anomaly_chart(counts, first, date(2026, 3, 3))
    assert [bar.total for bar in chart.bars] == [4, 0, 2]
    day_one = chart.bars[0].segments
    assert [segment.kind for segment in day_one] == [
        Anomaly.USE_AFTER_DELETION, Anomaly.NEW_SOURCE_IP,
    ]
    assert sum(segment.height for segment in day_one) == pytest.approx(chart.plot_height)
    assert day_one[0].y + day_one[0].height == pytest.approx(chart.plot_bottom)
    assert chart.bars[0].x < chart.bars[1].x < chart.bars[2].x
    assert chart.total == 6 and [kind for kind, _css in chart.kinds] == [
        Anomaly.USE_AFTER_DELETION, Anomaly.NEW_SOURCE_IP, Anomaly.SEQUENCE_GAP,
    ]


def test_an_empty_anomaly_chart_has_empty_bars() -> None:
    chart = anomaly_chart([], date(2026, 3, 1), date(2026, 3, 30))
    assert len(chart.bars) == 30 and all(not bar.segments for bar in chart.bars)


def test_the_role_timeline_draws_held_expired_and_open_spans() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    closed = RoleInterval("cred-a", "alice", "client-a", "admin", start + timedelta(days=1),
                          EventType.CREATED, start + timedelta(days=3), EventType.ROLES_SCOPED)
    open_one = RoleInterval(
        "cred-b", "bob", "client-b", "admin", start + timedelta(days=2), EventType.CREATED,
        status_changes=(StatusChange(start + timedelta(days=4), CredentialStatus.EXPIRED),
                        StatusChange(start + timedelta(days=6), CredentialStatus.ACTIVE)),
    )
    timeline = role_timeline([open_one, closed], start, end)
    lanes = {lane.credential_id: lane for lane in timeline.lanes}
    assert list(lanes) == ["cred-a", "cred-b"]
    (held,) = lanes["cred-a"].spans
    assert held.css == "held"
    span_of_a_day = (timeline.width - timeline.label_width - 12) / 10
    assert held.width == pytest.approx(2 * span_of_a_day, abs=0.05)
    bar, expired = lanes["cred-b"].spans
    assert bar.css == "held open"
    assert bar.x + bar.width == pytest.approx(timeline.width - 12, abs=0.05)
    assert expired.css == "expired" and expired.width == pytest.approx(2 * span_of_a_day, abs=0.05)
    assert timeline.ticks[0].label == "2026-03-01" and len(timeline.ticks) == 5
