"""The alerts configuration file: the documented example, defaults, and every error naming
its file, line and field (and never a secret)."""

from __future__ import annotations

import base64
import ipaddress
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.model.anomalies import Anomaly
from relay.config import (
    AlertConfig,
    AlertConfigError,
    RetryPolicy,
    load_alert_config,
    parse_alert_config,
)

SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
ENVIRON = {"SOC_WEBHOOK_SECRET": SECRET_TEXT}

EXAMPLE = """\
rules:
  kinds: [USE_AFTER_DELETION, USE_OUTSIDE_ALLOWED_CIDRS]   # default: every kind
  silences:
    - name: scanner-network
      networks: [10.20.0.0/16]
      kinds: [NEW_SOURCE_IP]
      until: 2027-01-01T00:00:00Z
      reason: weekly vulnerability scan
webhooks:
  - name: soc
    url: https://hooks.example.com/client-audit
    kinds: [USE_AFTER_DELETION]
    secret_env: SOC_WEBHOOK_SECRET
siem:
  - name: splunk
    host: siem.example.com
    port: 6514
    format: syslog
allowed_networks: [127.0.0.1/32]
retry: {initial_s: 5, max_interval_s: 900, give_up_after_s: 21600}
"""


def parse(text: str, environ: dict[str, str] | None = None) -> AlertConfig:
    return parse_alert_config(textwrap.dedent(text), "alerts.yaml", environ or ENVIRON)


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(AlertConfigError) as caught:
        parse(text, environ)
    return str(caught.value).splitlines()


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    config = load_alert_config(path, ENVIRON)
    assert config.rules.kinds == {Anomaly.USE_AFTER_DELETION, Anomaly.USE_OUTSIDE_ALLOWED_CIDRS}
    (silence,) = config.rules.silences
    assert silence.name == "scanner-network"
    assert silence.until == datetime(2027, 1, 1, tzinfo=UTC)
    assert silence.networks == (ipaddress.IPv4Network("10.20.0.0/16"),)
    assert silence.kinds == {Anomaly.NEW_SOURCE_IP}
    assert silence.reason == "weekly vulnerability scan"
    (hook,) = config.webhooks
    assert (hook.name, hook.url, hook.secret) == (
        "soc", "https://hooks.example.com/client-audit", SECRET,
    )
    assert hook.kinds == {Anomaly.USE_AFTER_DELETION}
    assert hook.timeout_s == 10.0
    (siem,) = config.siem
    assert (siem.name, siem.host, siem.port, siem.format) == (
        "splunk", "siem.example.com", 6514, "syslog",
    )
    assert siem.kinds == frozenset(Anomaly)
    assert config.allowed_networks == (ipaddress.IPv4Network("127.0.0.1/32"),)
    assert config.retry == RetryPolicy(5.0, 900.0, 21600.0)


@pytest.mark.parametrize("text", ["", "# nothing configured yet\n", "---\n", "~\n"])
def test_an_empty_file_is_an_empty_configuration(text: str) -> None:
    config = parse(text)
    assert config == AlertConfig()
    assert config.rules.kinds == frozenset(Anomaly)
    assert config.webhooks == () and config.siem == () and config.allowed_networks == ()
    assert config.retry == RetryPolicy(5.0, 900.0, 6 * 3600.0)


def test_a_secret_never_shows_in_repr_or_str() -> None:
    config = parse(EXAMPLE)
    for text in (repr(config), str(config), repr(config.webhooks[0])):
        assert SECRET_TEXT not in text
        assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in text
        assert repr(SECRET) not in text


def test_an_inline_secret_is_decoded() -> None:
    config = parse(f"""
        webhooks:
          - name: soc
            url: http://127.0.0.1:8080/hook
            secret: {SECRET_TEXT}
            timeout_s: 0.5
        """)
    assert config.webhooks[0].secret == SECRET
    assert config.webhooks[0].timeout_s == 0.5


def test_a_wrong_secret_is_reported_without_showing_it() -> None:
    short = "whsec_" + base64.b64encode(b"sixteen byte key").decode()
    found = problems(f"""
        webhooks:
          - name: soc
            url: https://hooks.example.com/
            secret: {short}
        """)
    assert found == [
        "alerts.yaml:5: webhooks[0].secret: a webhook secret must decode to 24 to 64 bytes "
        "(got 16)"
    ]
    assert short[6:] not in "\n".join(found)
    environ = {"HOOK": short}
    found = problems("""
        webhooks:
          - name: soc
            url: https://hooks.example.com/
            secret_env: HOOK
        """, environ)
    assert found == [
        "alerts.yaml:5: webhooks[0].secret_env: environment variable HOOK: a webhook secret "
        "must decode to 24 to 64 bytes (got 16)"
    ]


def test_a_missing_environment_variable_names_it() -> None:
    assert problems("""
        webhooks:
          - name: soc
            url: https://hooks.example.com/
            secret_env: NOT_SET_ANYWHERE
        """, {"OTHER": "x"}) == [
        "alerts.yaml:5: webhooks[0].secret_env: environment variable NOT_SET_ANYWHERE is not set"
    ]


def test_a_webhook_needs_exactly_one_secret() -> None:
    neither = problems("""
        webhooks:
          - name: soc
            url: https://hooks.example.com/
        """)
    assert neither == ["alerts.yaml:3: webhooks[0]: needs exactly one of secret and secret_env"]
    both = problems(f"""
        webhooks:
          - name: soc
            url: https://hooks.example.com/
            secret: {SECRET_TEXT}
            secret_env: SOC_WEBHOOK_SECRET
        """)
    assert both == ["alerts.yaml:3: webhooks[0]: needs exactly one of secret and secret_env"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "URL scheme should be 'http' or 'https'"),
        ("https://user:pw@hooks.example.com/", "must not hold a user name or password"),
        ("https://hooks.example.com/#part", "must not hold a fragment"),
        ("https://", "Input should be a valid URL, empty host"),
        ("https://hooks.example.com/a b", "must not hold spaces, control or non-ASCII"),
        ("https://hooks.example.com/" + "a" * 2048, "must be at most 2048 characters"),
    ],
)
def test_webhook_urls_are_checked(url: str, message: str) -> None:
    (found,) = problems(f"""
        webhooks:
          - name: soc
            url: "{url}"
            secret: {SECRET_TEXT}
        """)
    assert found.startswith("alerts.yaml:4: webhooks[0].url: ")
    assert message in found


def test_errors_name_the_line_and_field_one_per_line() -> None:
    found = problems(f"""
        rules:
          kinds: [USE_AFTER_DELETION, NOT_A_KIND]
          silences:
            - name: naive
              networks: [10.0.0.0/8]
              until: 2027-01-01 00:00:00
              reason: scan
        webhooks:
          - name: soc
            url: ftp://hooks.example.com/
            secret: {SECRET_TEXT}
            colour: blue
        siem:
          - name: bad name
            host: siem.example.com
            port: 70000
            format: json
        allowed_networks: [10.0.0.1/8]
        """)
    assert found[0].startswith("alerts.yaml:3: rules.kinds[1]: unknown kind 'NOT_A_KIND' (kinds: ")
    assert "USE_AFTER_DELETION" in found[0] and "SEQUENCE_LATE" in found[0]
    assert found[1:] == [
        "alerts.yaml:7: rules.silences[0].until: timestamp must be timezone-aware "
        "(e.g. 2026-03-03T10:00:00+00:00)",
        "alerts.yaml:11: webhooks[0].url: URL scheme should be 'http' or 'https'",
        "alerts.yaml:13: webhooks[0].colour: Extra inputs are not permitted",
        "alerts.yaml:15: siem[0].name: must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
        "alerts.yaml:17: siem[0].port: Input should be less than or equal to 65535",
        "alerts.yaml:18: siem[0].format: Input should be 'syslog' or 'cef'",
        "alerts.yaml:19: allowed_networks[0]: not a network without host bits: "
        "10.0.0.1/8 has host bits set",
    ]


def test_unknown_top_level_keys_are_errors() -> None:
    assert problems("webhook: []\n") == ["alerts.yaml:1: webhook: Extra inputs are not permitted"]


def test_a_silence_needs_until_and_a_credential_or_network() -> None:
    found = problems("""
        rules:
          silences:
            - name: everything
              until: 2027-01-01T00:00:00Z
              reason: too broad
            - name: forever
              credentials: [cred-1]
              reason: no end
        """)
    assert found == [
        "alerts.yaml:4: rules.silences[0]: silence everything: needs credentials or networks "
        "(or both)",
        "alerts.yaml:7: rules.silences[1].until: Field required",
    ]


def test_a_credential_silence_with_an_offset_is_kept_as_an_instant() -> None:
    config = parse("""
        rules:
          silences:
            - name: investigation
              credentials: [cred-7]
              until: 2026-12-01T09:00:00+02:00
              reason: under investigation, ticket SEC-12
        """)
    (silence,) = config.rules.silences
    assert silence.credentials == {"cred-7"}
    assert silence.until == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def test_names_are_unique_across_webhooks_and_siem() -> None:
    found = problems(f"""
        webhooks:
          - {{name: soc, url: "https://a.example.com/", secret: {SECRET_TEXT}}}
        siem:
          - {{name: splunk, host: siem.example.com, port: 514, format: cef}}
          - {{name: soc, host: siem.example.com, port: 515, format: syslog}}
        """)
    assert found == [
        "alerts.yaml:6: siem[1].name: output name 'soc' is already used by webhooks[0]"
    ]


def test_silence_names_are_unique() -> None:
    found = problems("""
        rules:
          silences:
            - {name: s, credentials: [a], until: 2027-01-01T00:00:00Z, reason: one}
            - {name: s, credentials: [b], until: 2027-01-01T00:00:00Z, reason: two}
        """)
    assert found == [
        "alerts.yaml:5: rules.silences[1].name: silence name 's' is already used by "
        "rules.silences[0]"
    ]


def test_empty_kind_lists_and_bare_strings_are_refused() -> None:
    found = problems(f"""
        webhooks:
          - name: soc
            url: https://a.example.com/
            secret: {SECRET_TEXT}
            kinds: []
          - name: soc2
            url: https://a.example.com/
            secret: {SECRET_TEXT}
            kinds: USE_AFTER_DELETION
        """)
    assert found[0].startswith("alerts.yaml:6: webhooks[0].kinds: ")
    assert found[1] == "alerts.yaml:10: webhooks[1].kinds: must be a list"


def test_retry_ranges_and_order_are_checked() -> None:
    assert problems("retry: {initial_s: 0}\n") == [
        "alerts.yaml:1: retry.initial_s: Input should be greater than or equal to 0.1"
    ]
    assert problems("retry: {initial_s: 100, max_interval_s: 50}\n") == [
        "alerts.yaml:1: retry: max_interval_s (50) must not be below initial_s (100)"
    ]
    assert problems("retry: {give_up_after_s: .inf}\n")[0].startswith(
        "alerts.yaml:1: retry.give_up_after_s: "
    )


def test_duplicate_keys_are_errors() -> None:
    found = problems("""
        siem:
          - name: a
            host: one.example.com
            host: two.example.com
            port: 514
            format: cef
        """)
    assert found == ["alerts.yaml:5: siem[0].host: duplicate key (first on line 4)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("webhooks: [\n", "alerts.yaml:2: invalid YAML: "),
        ("rules:\n  kinds: [a\n  b: c\n", "alerts.yaml:3: invalid YAML: "),
        ("- one\n- two\n", "alerts.yaml:1: the top level must be a mapping of settings"),
        ("just text\n", "alerts.yaml:1: the top level must be a mapping of settings"),
        ("a: 1\n---\nb: 2\n", "alerts.yaml:2: invalid YAML: "),
        ("x: &n [1]\ny: *n\n", "alerts.yaml:2: y: anchors and aliases are not supported"),
        ("rules: !!python/object:os.system {}\n", "alerts.yaml:1: rules: unsupported tag"),
        ("? [a, b]\n: 1\n", "alerts.yaml:1: keys must be text"),
        ("[" * 100000 + "]" * 100000, "alerts.yaml:1: nested deeper than 16 levels"),
    ],
)
def test_documents_that_are_not_a_settings_mapping_are_refused(text: str, expected: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_config(text, "alerts.yaml", {})
    assert str(caught.value).startswith(expected)


def test_huge_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    with pytest.raises(AlertConfigError, match="larger than 1048576 bytes"):
        load_alert_config(path, {})
    with pytest.raises(AlertConfigError, match="larger than 1048576 bytes"):
        parse_alert_config("#" * (1024 * 1024 + 1), "alerts.yaml", {})


def test_unreadable_and_non_utf8_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(AlertConfigError, match="cannot read"):
        load_alert_config(tmp_path / "missing.yaml", {})
    path = tmp_path / "alerts.yaml"
    path.write_bytes(b"rules: {}\nsiem: [\xff]\n")
    with pytest.raises(AlertConfigError, match=r"alerts.yaml:2: not UTF-8 text"):
        load_alert_config(path, {})


def test_the_environment_is_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOC_WEBHOOK_SECRET", SECRET_TEXT)
    config = parse_alert_config(EXAMPLE, "alerts.yaml")
    assert config.webhooks[0].secret == SECRET
