"""Writing refused messages to the dead-letter topic: original bytes plus the reason.

The writer carries anything the lifecycle topic accepted: it compresses as the publisher
does and sends requests up to :data:`MAX_REQUEST_BYTES`. A message that still cannot be
copied (too large for the producer or for the dead-letter topic) is replaced by a dead
letter without its value that holds the reason, the source position, and the size and
SHA-256 of the original key and value, so the projector can move on. Each source position
is written once by a writer however often a write is retried: after a partial failure only
the messages not yet confirmed are sent again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    InvalidRecordError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from consumer.errors import DeadLetterError
from consumer.intake import RefusedMessage, SourcePosition

log = logging.getLogger(__name__)

HEADER_ERROR = "dlq-error"
HEADER_ERROR_KIND = "dlq-error-kind"
HEADER_SOURCE_TOPIC = "dlq-source-topic"
HEADER_SOURCE_PARTITION = "dlq-source-partition"
HEADER_SOURCE_OFFSET = "dlq-source-offset"
HEADER_REFUSED_AT = "dlq-refused-at"
HEADER_COPY_ERROR = "dlq-copy-error"
HEADER_ORIGINAL_VALUE_BYTES = "dlq-original-value-bytes"
HEADER_ORIGINAL_VALUE_SHA256 = "dlq-original-value-sha256"
HEADER_ORIGINAL_KEY_BYTES = "dlq-original-key-bytes"
HEADER_ORIGINAL_KEY_SHA256 = "dlq-original-key-sha256"
DEAD_LETTER_HEADERS = (
    HEADER_ERROR,
    HEADER_ERROR_KIND,
    HEADER_SOURCE_TOPIC,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_OFFSET,
    HEADER_REFUSED_AT,
)
"""Headers every dead letter carries after the original headers."""

DIGEST_HEADERS = (
    HEADER_COPY_ERROR,
    HEADER_ORIGINAL_VALUE_BYTES,
    HEADER_ORIGINAL_VALUE_SHA256,
    HEADER_ORIGINAL_KEY_BYTES,
    HEADER_ORIGINAL_KEY_SHA256,
)
"""Headers of a dead letter that stands for a message that could not be copied."""

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""Largest dead letter the writer sends (before compression)."""

KEY_COPY_MAX = 1024
"""Longest original key a digest dead letter keeps as its key (longer: no key)."""

REMEMBERED = 100_000
"""Source positions the writer remembers as written (the newest ones)."""

_UNCOPYABLE = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError)
"""Broker or producer refusals of a message for its size or content: retrying cannot help."""


def dead_letter_headers(message: RefusedMessage, refused_at: datetime) -> list[tuple[str, bytes]]:
    """The original headers followed by the reason and the source position."""
    return [*message.headers, *_reason_headers(message, refused_at)]


def _reason_headers(message: RefusedMessage, refused_at: datetime) -> list[tuple[str, bytes]]:
    return [
        (HEADER_ERROR, message.reason.encode("utf-8", "backslashreplace")),
        (HEADER_ERROR_KIND, message.error_kind.encode()),
        (HEADER_SOURCE_TOPIC, message.topic.encode()),
        (HEADER_SOURCE_PARTITION, str(message.partition).encode()),
        (HEADER_SOURCE_OFFSET, str(message.offset).encode()),
        (HEADER_REFUSED_AT, refused_at.isoformat().encode()),
    ]


def digest_headers(
    message: RefusedMessage, refused_at: datetime, copy_error: str
) -> list[tuple[str, bytes]]:
    """The headers of a dead letter standing for a message that could not be copied."""
    value, key = message.value or b"", message.key or b""
    return [
        *_reason_headers(message, refused_at),
        (HEADER_COPY_ERROR, copy_error.encode("utf-8", "backslashreplace")),
        (HEADER_ORIGINAL_VALUE_BYTES, str(len(value)).encode()),
        (HEADER_ORIGINAL_VALUE_SHA256, hashlib.sha256(value).hexdigest().encode()),
        (HEADER_ORIGINAL_KEY_BYTES, str(len(key)).encode()),
        (HEADER_ORIGINAL_KEY_SHA256, hashlib.sha256(key).hexdigest().encode()),
    ]


class DeadLetterWriter:
    """Publishes refused messages with their original key, value and headers; confirmed or
    raises."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        timeout_s: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._written: OrderedDict[SourcePosition, None] = OrderedDict()
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id="client-audit-dead-letter",
            acks="all",
            enable_idempotence=True,
            compression_type="lz4",
            linger_ms=5,
            max_request_size=MAX_REQUEST_BYTES,
            max_block_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000,
            request_timeout_ms=int(timeout_s * 1000),
            allow_auto_create_topics=False,
            **(client_options or {}),
        )

    def write(self, messages: Sequence[RefusedMessage]) -> None:
        """Write every message not written before; DeadLetterError names what is left."""
        pending = [message for message in messages if message.source not in self._written]
        if not pending:
            return
        refused_at = datetime.now(UTC)
        failures: list[tuple[RefusedMessage, BaseException]] = []
        for message, error in self._copy(pending, refused_at):
            if error is None:
                self._remember(message, "dead-lettered")
            elif isinstance(error, _UNCOPYABLE):
                self._write_digest(message, refused_at, error, failures)
            else:
                failures.append((message, error))
        if failures:
            message, error = failures[0]
            raise DeadLetterError(
                f"could not write {len(failures)} of {len(pending)} refused messages to "
                f"{self.topic} (first: {message.topic}[{message.partition}]@{message.offset}: "
                f"{error})"
            ) from error

    def _copy(
        self, messages: Sequence[RefusedMessage], refused_at: datetime
    ) -> list[tuple[RefusedMessage, BaseException | None]]:
        sent: list[tuple[RefusedMessage, Any]] = []
        outcomes: list[tuple[RefusedMessage, BaseException | None]] = []
        for message in messages:
            try:
                future = self._producer.send(
                    self.topic, key=message.key, value=message.value,
                    headers=dead_letter_headers(message, refused_at),
                )
            except KafkaError as exc:
                outcomes.append((message, exc))
                continue
            sent.append((message, future))
        outcomes.extend(self._confirm(sent))
        return outcomes

    def _confirm(
        self, sent: Sequence[tuple[RefusedMessage, Any]]
    ) -> list[tuple[RefusedMessage, BaseException | None]]:
        try:
            self._producer.flush(timeout=self.timeout_s)
        except KafkaError as exc:
            log.debug("dead-letter flush did not complete: %s", exc)
        outcomes: list[tuple[RefusedMessage, BaseException | None]] = []
        for message, future in sent:
            try:
                future.get(timeout=self.timeout_s)
            except KafkaError as exc:
                outcomes.append((message, exc))
            else:
                outcomes.append((message, None))
        return outcomes

    def _write_digest(
        self,
        message: RefusedMessage,
        refused_at: datetime,
        error: BaseException,
        failures: list[tuple[RefusedMessage, BaseException]],
    ) -> None:
        copy_error = f"the message could not be copied: {type(error).__name__}: {error}"
        key = message.key if message.key is not None and len(message.key) <= KEY_COPY_MAX else None
        try:
            future = self._producer.send(
                self.topic, key=key, value=None,
                headers=digest_headers(message, refused_at, copy_error[:1024]),
            )
            self._producer.flush(timeout=self.timeout_s)
            future.get(timeout=self.timeout_s)
        except KafkaError as exc:
            failures.append((message, exc))
            return
        self._remember(message, "dead-lettered without its bytes (see dlq-copy-error)")

    def _remember(self, message: RefusedMessage, what: str) -> None:
        self._written[message.source] = None
        while len(self._written) > REMEMBERED:
            self._written.popitem(last=False)
        log.warning(
            "%s %s[%d]@%d: %s", what, message.topic, message.partition, message.offset,
            message.reason,
        )

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)
