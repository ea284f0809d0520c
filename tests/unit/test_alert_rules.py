"""Alert rules: which kinds alert, and silences by credential, network, kind and expiry."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from projections.alerts.rules import AlertRules, Silence
from projections.model.anomalies import Anomaly

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
SCANNERS = (ipaddress.IPv4Network("10.20.0.0/16"),)


SCANNER = Silence(
    name="scanner-network",
    until=UNTIL,
    reason="weekly scan",
    networks=SCANNERS,
    kinds=frozenset({Anomaly.NEW_SOURCE_IP}),
)


def scanner_silence(**changes: Any) -> Silence:
    return replace(SCANNER, **changes)


NEW_IP = (Anomaly.NEW_SOURCE_IP,)


def test_a_silence_matches_inside_its_network_before_it_expires() -> None:
    silence = scanner_silence()
    assert silence.matches(NEW_IP, "cred-1", "10.20.3.4", NOW)
    assert not silence.matches(NEW_IP, "cred-1", "10.21.3.4", NOW)
    assert not silence.matches(NEW_IP, "cred-1", None, NOW)
    assert not silence.matches(NEW_IP, "cred-1", "not an address", NOW)


def test_a_silence_ends_at_until() -> None:
    silence = scanner_silence()
    assert silence.matches(NEW_IP, "cred-1", "10.20.0.1", UNTIL - timedelta(microseconds=1))
    assert not silence.matches(NEW_IP, "cred-1", "10.20.0.1", UNTIL)
    assert not silence.matches(NEW_IP, "cred-1", "10.20.0.1", UNTIL + timedelta(days=1))


def test_until_compares_as_an_instant_whatever_its_offset() -> None:
    paris = timezone(timedelta(hours=1))
    silence = scanner_silence(until=datetime(2027, 1, 1, 1, 0, tzinfo=paris))  # = UNTIL
    assert not silence.matches(NEW_IP, "cred-1", "10.20.0.1", UNTIL)
    assert silence.matches(NEW_IP, "cred-1", "10.20.0.1", UNTIL - timedelta(seconds=1))


def test_ipv4_mapped_sources_match_ipv4_networks_and_the_other_way_round() -> None:
    assert scanner_silence().matches(NEW_IP, "cred-1", "::ffff:10.20.9.9", NOW)
    assert not scanner_silence().matches(NEW_IP, "cred-1", "::ffff:10.21.9.9", NOW)
    mapped = scanner_silence(networks=(ipaddress.IPv6Network("::ffff:10.20.0.0/112"),))
    assert mapped.matches(NEW_IP, "cred-1", "10.20.9.9", NOW)
    assert not mapped.matches(NEW_IP, "cred-1", "10.21.9.9", NOW)


def test_ipv6_networks_match_ipv6_sources() -> None:
    silence = scanner_silence(networks=(ipaddress.IPv6Network("2001:db8::/32"),))
    assert silence.matches(NEW_IP, "cred-1", "2001:db8::7", NOW)
    assert not silence.matches(NEW_IP, "cred-1", "2001:db9::7", NOW)
    assert not silence.matches(NEW_IP, "cred-1", "10.20.0.1", NOW)


def test_an_alert_with_a_kind_outside_the_silence_is_not_silenced() -> None:
    silence = scanner_silence()
    both = (Anomaly.NEW_SOURCE_IP, Anomaly.USE_AFTER_DELETION)
    assert not silence.matches(both, "cred-1", "10.20.0.1", NOW)


def test_a_silence_without_kinds_covers_every_kind() -> None:
    silence = scanner_silence(kinds=frozenset())
    assert silence.matches(tuple(Anomaly), "cred-1", "10.20.0.1", NOW)


def test_credentials_and_networks_must_both_match_when_both_are_given() -> None:
    silence = scanner_silence(credentials=frozenset({"cred-under-investigation"}))
    assert silence.matches(NEW_IP, "cred-under-investigation", "10.20.0.1", NOW)
    assert not silence.matches(NEW_IP, "cred-other", "10.20.0.1", NOW)
    assert not silence.matches(NEW_IP, "cred-under-investigation", "192.0.2.1", NOW)


def test_a_credential_silence_matches_from_any_address_even_none() -> None:
    silence = scanner_silence(networks=(), credentials=frozenset({"cred-1"}))
    assert silence.matches(NEW_IP, "cred-1", None, NOW)
    assert silence.matches(NEW_IP, "cred-1", "203.0.113.5", NOW)
    assert not silence.matches(NEW_IP, "cred-2", None, NOW)


def test_a_silence_needs_an_aware_until_and_a_credential_or_network() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        scanner_silence(until=datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="credentials or networks"):
        scanner_silence(networks=())


def test_every_kind_alerts_by_default() -> None:
    rules = AlertRules()
    assert all(rules.decide((kind,), "cred-1", None, NOW) is None for kind in Anomaly)


def test_kinds_that_do_not_alert_are_silenced_with_a_stable_reason() -> None:
    rules = AlertRules(kinds=frozenset({Anomaly.USE_AFTER_DELETION}))
    assert rules.decide(NEW_IP, "cred-1", None, NOW) == "kinds not alerting: NEW_SOURCE_IP"
    listed = rules.decide(
        (Anomaly.SEQUENCE_GAP, Anomaly.NEW_SOURCE_IP), "cred-1", None, NOW
    )
    assert listed == "kinds not alerting: NEW_SOURCE_IP,SEQUENCE_GAP"
    assert rules.decide((Anomaly.USE_AFTER_DELETION,), "cred-1", None, NOW) is None
    mixed = (Anomaly.NEW_SOURCE_IP, Anomaly.USE_AFTER_DELETION)
    assert rules.decide(mixed, "cred-1", None, NOW) is None


def test_the_first_matching_silence_gives_the_reason() -> None:
    rules = AlertRules(
        silences=(
            scanner_silence(name="other", networks=(ipaddress.IPv4Network("192.0.2.0/24"),)),
            scanner_silence(),
            scanner_silence(name="later", reason="never reached"),
        )
    )
    reason = rules.decide(NEW_IP, "cred-1", "10.20.0.1", NOW)
    assert reason == "silence scanner-network until 2027-01-01T00:00:00Z: weekly scan"
    assert rules.decide(NEW_IP, "cred-1", "10.99.0.1", NOW) is None
    assert rules.decide(NEW_IP, "cred-1", "10.20.0.1", UNTIL) is None


def test_silences_are_held_against_the_alerting_kinds_only() -> None:
    rules = AlertRules(
        kinds=frozenset(Anomaly) - {Anomaly.SEQUENCE_GAP}, silences=(scanner_silence(),)
    )
    kinds = (Anomaly.NEW_SOURCE_IP, Anomaly.SEQUENCE_GAP)
    assert rules.decide(kinds, "cred-1", "10.20.0.1", NOW) is not None
    with_alerting_other = (Anomaly.NEW_SOURCE_IP, Anomaly.USE_AFTER_EXPIRY)
    assert rules.decide(with_alerting_other, "cred-1", "10.20.0.1", NOW) is None


def test_an_alert_without_kinds_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="at least one kind"):
        AlertRules().decide((), "cred-1", None, NOW)
