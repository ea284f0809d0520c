"""The client-audit command's producing side (simulate, emit) against a real Kafka broker.

The command runs as a real process (the installed console script), so exit codes, stdout and
stderr are exactly what a user sees.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from producer.simulate import Simulation, SimulationConfig
from schemas.codec import EventCodec
from schemas.models import CredentialUsed, LifecycleEvent
from tests.builders import T0, build_created, build_deleted, build_used

pytestmark = pytest.mark.integration

CODEC = EventCodec()


def _command() -> list[str]:
    script = Path(sys.executable).with_name("client-audit")
    if script.exists():
        return [str(script)]
    found = shutil.which("client-audit")
    if found:
        return [found]
    return [sys.executable, "-c", "from client_audit.cli.main import main; main()"]


def run_cli(
    bootstrap: str, topic: str, *args: str, stdin: str | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLIENT_AUDIT_")}
    env["CLIENT_AUDIT_DELIVERY_TIMEOUT_S"] = "20"
    return subprocess.run(
        [
            *_command(),
            "--bootstrap-servers",
            bootstrap,
            "--topic",
            topic,
            "--dead-letter-topic",
            f"{topic}.dlq",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )


def consume_all(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every message of ``topic`` (none if it does not exist), in offset order per partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        if topic not in consumer.topics():
            return []
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        messages: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, "timed out reading the topic back"
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return sorted(messages, key=lambda message: (message.partition, message.offset))
    finally:
        consumer.close()


@pytest.fixture
def topic(unique_name: str, kafka_bootstrap_servers: str) -> Any:
    name = f"{unique_name}.lifecycle"
    yield name
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    try:
        doomed = [t for t in (name, f"{name}.dlq") if t in set(admin.list_topics())]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


# --- simulate --------------------------------------------------------------------------------


def test_simulate_publishes_exactly_the_summarised_stream(
    kafka_bootstrap_servers: str, topic: str
) -> None:
    result = run_cli(
        kafka_bootstrap_servers, topic, "simulate", "--credentials", "40", "--no-progress"
    )
    assert result.returncode == 0, result.stderr

    summary = json.loads(result.stdout)
    assert summary["topic"] == topic
    assert summary["credentials"] == 40
    assert summary["events"] == sum(summary["eventsByType"].values()) > 40

    messages = consume_all(kafka_bootstrap_servers, topic)
    decoded = [CODEC.decode(message.value) for message in messages]  # every one decodes fully
    assert len(decoded) == summary["events"]
    assert Counter(event.event_type.value for event in decoded) == Counter(summary["eventsByType"])
    assert len({event.credential_id for event in decoded}) == 40
    assert len({event.event_id for event in decoded}) == len(decoded)
    for message, event in zip(messages, decoded, strict=True):
        assert message.key == event.credential_id.encode()

    # same seed, same stream: the topic holds exactly what the simulation intends
    expected = list(Simulation(SimulationConfig(credentials=40)).events())
    assert {event.event_id: event for event in decoded} == {
        event.event_id: event for event in expected
    }

    dead_letters = consume_all(kafka_bootstrap_servers, f"{topic}.dlq")
    assert dead_letters == []
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=None)
    try:
        assert len(consumer.partitions_for_topic(f"{topic}.dlq")) == 6
        assert len(consumer.partitions_for_topic(topic)) == 6
    finally:
        consumer.close()


# --- emit <type> -----------------------------------------------------------------------------

ENVELOPE_OPTIONS = [
    "--credential-id",
    "cred-cli-1",
    "--client-id",
    "client-cli",
    "--user-id",
    "user-cli",
]


def test_emit_used_publishes_one_validated_event(kafka_bootstrap_servers: str, topic: str) -> None:
    result = run_cli(
        kafka_bootstrap_servers,
        topic,
        "emit",
        "used",
        *ENVELOPE_OPTIONS,
        "--sequence",
        "3",
        "--source-ip",
        "2001:DB8::0007",
        "--outcome",
        "denied",
        "--reason",
        "outside-allowed-cidrs",
        "--occurred-at",
        "2026-03-03T11:00:00+01:00",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)

    messages = consume_all(kafka_bootstrap_servers, topic)
    assert len(messages) == 1
    event = CODEC.decode(messages[0].value)
    assert isinstance(event, CredentialUsed)
    assert printed == {
        "published": str(event.event_id),
        "type": "USED",
        "credentialId": "cred-cli-1",
        "sequence": 3,
    }
    assert messages[0].key == b"cred-cli-1"
    assert event.source_ip == "2001:db8::7"
    assert event.outcome.value == "DENIED"
    assert event.denial_reason is not None and event.denial_reason.value == "OUTSIDE_ALLOWED_CIDRS"
    assert event.occurred_at == T0 == event.used_at
    assert str(event.envelope.actor) == "user:user-cli"


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (
            ["used", "--sequence", "1", "--source-ip", "not-an-ip", "--outcome", "allowed"],
            "sourceIp",
        ),
        (
            ["used", "--sequence", "1", "--source-ip", "10.0.0.0/8", "--outcome", "allowed"],
            "sourceIp",
        ),
        (
            ["used", "--sequence", "1", "--source-ip", "10.0.0.7", "--outcome", "denied"],
            "denialReason",
        ),
        (["created", "--sequence", "1", "--cidr", "10.0.0.1/8"], "credential.allowSourceCidr.0"),
        (
            ["created", "--sequence", "1", "--cidr", "10.0.0.0/8", "--cidr", "nonsense"],
            "credential.allowSourceCidr.1",
        ),
        (["updated", "--sequence", "2", "--cidr", "10.0.0.0/33"], "allowSourceCidr.0"),
        (["updated", "--sequence", "2"], "displayName"),
        (["roles-scoped", "--sequence", "2", "--role", " "], "scopedRoles.0"),
    ],
    ids=[
        "ip-garbage",
        "ip-is-cidr",
        "denied-no-reason",
        "cidr-host-bits",
        "cidr-garbage",
        "cidr-prefix",
        "update-nothing",
        "blank-role",
    ],
)
def test_emit_with_invalid_values_fails_naming_the_field_and_publishes_nothing(
    kafka_bootstrap_servers: str, topic: str, command: list[str], field: str
) -> None:
    kind, *options = command
    result = run_cli(kafka_bootstrap_servers, topic, "emit", kind, *ENVELOPE_OPTIONS, *options)
    assert result.returncode != 0
    assert field in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert consume_all(kafka_bootstrap_servers, topic) == []


def test_emit_rejects_a_naive_instant(kafka_bootstrap_servers: str, topic: str) -> None:
    result = run_cli(
        kafka_bootstrap_servers,
        topic,
        "emit",
        "expired",
        *ENVELOPE_OPTIONS,
        "--sequence",
        "2",
        "--expires-time",
        "2026-03-03T10:00:00",
    )
    assert result.returncode == 2
    assert "offset" in result.stderr
    assert consume_all(kafka_bootstrap_servers, topic) == []


def test_emit_to_a_stopped_broker_fails_clearly(topic: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    result = subprocess.run(
        [
            *_command(),
            "--bootstrap-servers",
            address,
            "--topic",
            topic,
            "emit",
            "deleted",
            *ENVELOPE_OPTIONS,
            "--sequence",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CLIENT_AUDIT_DELIVERY_TIMEOUT_S": "3"},
    )
    assert result.returncode == 1
    assert address in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


# --- emit jsonl ------------------------------------------------------------------------------


def _line(event: LifecycleEvent) -> str:
    return event.model_dump_json(by_alias=True)


def test_emit_jsonl_publishes_good_lines_and_reports_bad_ones_by_number(
    kafka_bootstrap_servers: str, topic: str, tmp_path: Path
) -> None:
    created = build_created(credential_id="cred-jsonl")
    used = build_used(credential_id="cred-jsonl", sequence=2, source_ip="2001:db8::1")
    deleted = build_deleted(credential_id="cred-jsonl", sequence=3, reason=None)
    bad_ip = json.loads(_line(build_used(credential_id="cred-jsonl", sequence=9)))
    bad_ip["sourceIp"] = "999.1.1.1"
    bad_cidr = {
        "envelope": {**bad_ip["envelope"], "eventType": "UPDATED"},
        "allowSourceCidr": ["10.0.0.1/8"],
    }
    unknown_type = {"envelope": {**bad_ip["envelope"], "eventType": "TELEPORTED"}}
    lines = [
        _line(created),  # 1 good
        "this is not json",  # 2
        _line(used),  # 3 good
        json.dumps(bad_ip),  # 4 sourceIp
        "",  # 5 blank: skipped, not an error
        "[1, 2]",  # 6 not an object
        json.dumps(bad_cidr),  # 7 allowSourceCidr.0
        json.dumps(unknown_type),  # 8 envelope.eventType
        _line(deleted),  # 9 good
        json.dumps({"sourceIp": "10.0.0.1"}),  # 10 no envelope
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli(kafka_bootstrap_servers, topic, "emit", "jsonl", str(source))

    assert result.returncode == 1
    reported = {
        int(line.split(":", 1)[0].removeprefix("line ")): line
        for line in result.stderr.splitlines()
        if line.startswith("line ")
    }
    assert sorted(reported) == [2, 4, 6, 7, 8, 10]
    assert "not JSON" in reported[2]
    assert "sourceIp" in reported[4]
    assert "object" in reported[6]
    assert "allowSourceCidr.0" in reported[7]
    assert "envelope.eventType" in reported[8]
    assert "envelope" in reported[10]
    assert "published 3 events; rejected 6 lines" in result.stderr

    messages = consume_all(kafka_bootstrap_servers, topic)
    assert [CODEC.decode(message.value) for message in messages] == [created, used, deleted]
    assert [json.loads(line)["published"] for line in result.stdout.splitlines()] == [
        str(created.event_id),
        str(used.event_id),
        str(deleted.event_id),
    ]


def test_emit_jsonl_from_stdin_with_only_good_lines_exits_zero(
    kafka_bootstrap_servers: str, topic: str
) -> None:
    events = [build_used(credential_id=f"cred-stdin-{index}", sequence=1) for index in range(5)]
    result = run_cli(
        kafka_bootstrap_servers,
        topic,
        "emit",
        "jsonl",
        "-",
        stdin="".join(_line(event) + "\n" for event in events),
    )
    assert result.returncode == 0, result.stderr
    assert "published 5 events; rejected 0 lines" in result.stderr
    decoded = {CODEC.decode(m.value) for m in consume_all(kafka_bootstrap_servers, topic)}
    assert decoded == set(events)


def test_emit_jsonl_reports_hostile_lines_by_number_and_still_publishes_the_good_ones(
    kafka_bootstrap_servers: str, topic: str, tmp_path: Path
) -> None:
    """A line nested 100,000 deep, a 50 MB line, an event over the size limit and a NUL in a
    display name are each reported with their number; the good lines around them go out."""
    good = [build_used(credential_id=f"cred-hostile-{n}", sequence=1) for n in range(3)]
    huge_roles = json.loads(_line(build_created(credential_id="cred-huge")))
    huge_roles["credential"]["scopedRoles"] = [f"{n:04d}" + "r" * 250 for n in range(5000)]
    nul = json.loads(_line(build_created(credential_id="cred-nul")))
    nul["credential"]["displayName"] = "evil\u0000name"
    source = tmp_path / "hostile.jsonl"
    with source.open("w", encoding="utf-8") as out:
        out.write(_line(good[0]) + "\n")  # 1
        out.write("[" * 100_000 + "]" * 100_000 + "\n")  # 2
        out.write('{"a": "' + "x" * (50 * 1024 * 1024) + '"}\n')  # 3
        out.write(_line(good[1]) + "\n")  # 4
        out.write(json.dumps(huge_roles) + "\n")  # 5
        out.write(json.dumps(nul) + "\n")  # 6
        out.write(_line(good[2]) + "\n")  # 7
    result = run_cli(kafka_bootstrap_servers, topic, "emit", "jsonl", str(source))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    reported = {
        int(line.split(":", 1)[0].removeprefix("line ")): line
        for line in result.stderr.splitlines()
        if line.startswith("line ")
    }
    assert sorted(reported) == [2, 3, 5, 6]
    assert "nested 33 deep" in reported[2]
    assert "longer than the 4,194,304-character limit" in reported[3]
    assert "larger than the contract's 1,048,576-byte limit" in reported[5]
    assert "credential.displayName: must not contain" in reported[6]
    assert "published 3 events; rejected 4 lines" in result.stderr
    decoded = [CODEC.decode(m.value) for m in consume_all(kafka_bootstrap_servers, topic)]
    assert decoded == good
