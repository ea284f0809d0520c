"""Signed checkpoints made by the projector: every N entries or T seconds, and when it stops.

A :class:`Checkpointer` hears of every committed batch (it is the projector's batch
observer, or part of it); when enough entries were applied or enough time passed it reads
every partition log's size and root from the store, signs them, stores the checkpoint,
publishes it to the checkpoints topic (value: the checkpoint's JSON document, key: its key
id) and, when given a folder, writes it there as a file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import Engine

from consumer.errors import ConsumerError
from consumer.intake import Intake
from projections.chain import checkpoints
from projections.chain.checkpoints import Checkpoint
from projections.chain.signing import SigningKey
from projections.db.engine import write_transaction
from projections.write.store import ApplyResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CheckpointPolicy:
    every_entries: int = 10_000
    every_seconds: float = 60.0
    folder: Path | None = None


class CheckpointPublisher:
    """Publishes checkpoints to a Kafka topic; each send confirmed or an error raised."""

    def __init__(
        self, bootstrap_servers: str, topic: str, timeout_s: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id="client-audit-checkpoints",
            acks="all", enable_idempotence=True, allow_auto_create_topics=False,
            max_block_ms=int(timeout_s * 1000), request_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000, **(client_options or {}),
        )

    def publish(self, checkpoint: Checkpoint) -> None:
        value = json.dumps(checkpoint.document(), sort_keys=True).encode()
        try:
            self._producer.send(self.topic, key=checkpoint.key_id.encode(), value=value).get(
                timeout=self.timeout_s
            )
        except KafkaError as exc:
            raise ConsumerError(f"could not publish checkpoint to {self.topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)


class Checkpointer:
    """Makes signed checkpoints of the store's logs as batches commit."""

    def __init__(
        self,
        engine: Engine,
        key: SigningKey,
        policy: CheckpointPolicy,
        publisher: CheckpointPublisher | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.key = key
        self.policy = policy
        self.publisher = publisher
        self.clock = clock
        self.pending = 0
        self.made = 0
        self._last = time.monotonic()

    def after_batch(self, _intake: Intake, result: ApplyResult) -> None:
        self.pending += result.applied
        due = self.pending >= self.policy.every_entries or (
            self.pending and time.monotonic() - self._last >= self.policy.every_seconds
        )
        if due:
            self.checkpoint()

    def finish(self) -> Checkpoint | None:
        """The last checkpoint, when the projector stops (if anything was applied since, or
        none was made yet)."""
        if self.pending or not self.made:
            return self.checkpoint()
        return None

    def checkpoint(self) -> Checkpoint:
        with write_transaction(self.engine) as connection:
            heads = checkpoints.current_heads(connection)
            made = checkpoints.signed(self.key, self.clock(), heads)
            checkpoint_id = checkpoints.store(connection, made, self.key)
        self.pending, self._last = 0, time.monotonic()
        self.made += 1
        log.info(
            "checkpoint %d signed by %s: %d logs, %d entries", checkpoint_id, self.key.key_id,
            len(made.logs), sum(head.size for head in made.logs),
        )
        if self.publisher is not None:
            self.publisher.publish(made)
        if self.policy.folder is not None:
            name = f"checkpoint-{checkpoint_id:08d}.json"
            (self.policy.folder / name).write_text(
                json.dumps(made.document(), indent=2) + "\n", encoding="utf-8"
            )
        return made
