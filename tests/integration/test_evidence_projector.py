"""The projector's signed checkpoints end to end, on the real broker and both databases:
stored, published to the checkpoints topic, written as files, and enough for an
investigator to prove any entry and check the whole log."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from kafka import KafkaConsumer, TopicPartition

from client_audit.cli.main import cli
from projections.chain.checkpoints import Checkpoint, from_document
from projections.chain.signing import SigningKey, verify_signature
from projections.db.engine import create_engine_for
from projections.db.tables import audit_chain_heads, audit_log, checkpoints
from tests.integration.evidence_support import public_key_file
from tests.integration.projector_support import (
    Topics,
    make_topics,
    publish_simulation,
    spawn_projector,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stream(kafka_bootstrap_servers: str) -> Topics:
    topics = make_topics(kafka_bootstrap_servers, f"t{uuid.uuid4().hex[:10]}", partitions=3)
    publish_simulation(topics, 30, seed=12)
    return topics


def run(topics: Topics, url: str, checkpoint_topic: str, *args: str) -> Result:
    options = [*topics.cli_options(url), "--checkpoint-topic", checkpoint_topic]
    return CliRunner().invoke(cli, [*options, *args], catch_exceptions=False)


def topic_checkpoints(bootstrap: str, topic: str) -> list[tuple[bytes, Checkpoint]]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        return [(message.key, from_document(json.loads(message.value))) for message in consumer]
    finally:
        consumer.close()


def test_the_projector_signs_stores_publishes_and_files_checkpoints(
    stream: Topics, database_url: str, tmp_path: Path, unique_name: str
) -> None:
    key_file = tmp_path / "signing.pem"
    generated = CliRunner().invoke(cli, ["keys", "generate", "--out", str(key_file)])
    assert generated.exit_code == 0, generated.output
    key = SigningKey.load(key_file)
    folder = tmp_path / "checkpoints"
    checkpoint_topic = f"{stream.lifecycle}.{unique_name}.checkpoints"
    result = run(
        stream,
        database_url,
        checkpoint_topic,
        "project",
        "--group",
        unique_name,
        "--until-caught-up",
        "--batch-size",
        "100",
        "--signing-key",
        str(key_file),
        "--checkpoint-every",
        "150",
        "--checkpoint-dir",
        str(folder),
    )
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)["applied"]
    assert applied > 200

    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.select(checkpoints.c.body, checkpoints.c.signature).order_by(
                    checkpoints.c.checkpoint_id
                )
            ).all()
            heads = {
                (row.partition, row.length)
                for row in connection.execute(
                    sa.select(audit_chain_heads.c.partition, audit_chain_heads.c.length)
                )
            }
            entries = connection.scalar(sa.select(sa.func.count()).select_from(audit_log))
    finally:
        engine.dispose()
    assert entries == applied
    # One after each batch that brings 150 or more applied entries since the last, and
    # one at the end.
    assert 2 <= len(stored) <= applied // 150 + 1
    last = json.loads(stored[-1].body)
    assert {(line["partition"], line["size"]) for line in last["logs"]} == heads
    assert last["keyId"] == key.key_id

    published = topic_checkpoints(stream.bootstrap, checkpoint_topic)
    assert [checkpoint.body.decode() for _key, checkpoint in published] == [
        row.body for row in stored
    ]
    for message_key, checkpoint in published:
        assert message_key == key.key_id.encode()
        assert verify_signature(key.public, checkpoint.body, checkpoint.signature)

    files = sorted(folder.glob("checkpoint-*.json"))
    assert len(files) == len(stored)
    assert from_document(json.loads(files[-1].read_text())).body == stored[-1].body.encode()

    trusted = public_key_file(key, tmp_path)
    checked = run(
        stream,
        database_url,
        checkpoint_topic,
        "verify-log",
        "--checkpoints",
        "--public-key",
        str(trusted),
        "--checkpoint-file",
        str(folder),
        "--format",
        "jsonl",
    )
    assert checked.exit_code == 0, checked.output
    proof = run(
        stream,
        database_url,
        checkpoint_topic,
        "prove",
        "--entry",
        "1",
        "--out",
        str(tmp_path / "proof.json"),
    )
    assert proof.exit_code == 0, proof.output
    verified = CliRunner().invoke(
        cli, ["verify-proof", str(tmp_path / "proof.json"), "--public-key", str(trusted)]
    )
    assert verified.exit_code == 0, verified.output


def test_the_projector_says_when_it_signs_nothing(
    stream: Topics, sqlite_url: str, unique_name: str
) -> None:
    process = spawn_projector(stream, sqlite_url, unique_name, 500, until_caught_up=True)
    _out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    assert b"running without a signing key: no signed checkpoints are made" in err
    engine = create_engine_for(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).select_from(checkpoints)) == 0
    finally:
        engine.dispose()


def test_the_projector_refuses_a_key_others_can_read(
    stream: Topics, sqlite_url: str, tmp_path: Path, unique_name: str
) -> None:
    key_file = tmp_path / "signing.pem"
    SigningKey.generate().write(key_file)
    key_file.chmod(0o640)
    result = run(
        stream,
        sqlite_url,
        f"{stream.lifecycle}.checkpoints",
        "project",
        "--group",
        unique_name,
        "--until-caught-up",
        "--signing-key",
        str(key_file),
    )
    assert result.exit_code == 2
    assert "--signing-key" in result.output
    assert "readable by others (mode 0640)" in result.output
