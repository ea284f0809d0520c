"""Encode lifecycle events to Avro single-object bytes and decode them back, with evolution."""

from __future__ import annotations

import io

from fastavro import schemaless_reader, schemaless_writer

from schemas.errors import DecodeError, EncodeError, InvalidEventError
from schemas.limits import EVENT_MAX_BYTES
from schemas.models import EVENT_CLASSES_BY_SCHEMA, LifecycleEvent
from schemas.registry import SchemaRegistry, SchemaVersion, default_registry
from schemas.wire import FINGERPRINT_SIZE, HEADER_SIZE, MARKER


class EventCodec:
    """Single-object Avro codec; decoding resolves old writer schemas to the current reader."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()

    def writer_of(self, event: LifecycleEvent) -> SchemaVersion:
        return self.registry.current(event.schema_name)

    def encode(self, event: LifecycleEvent) -> bytes:
        writer = self.writer_of(event)
        buffer = io.BytesIO()
        buffer.write(MARKER)
        buffer.write(writer.fingerprint)
        try:
            schemaless_writer(buffer, writer.schema, event.to_record())
        except (ValueError, TypeError, OverflowError) as exc:
            raise EncodeError(f"cannot encode {writer.name}: {exc}") from exc
        if buffer.tell() > EVENT_MAX_BYTES:
            raise EncodeError(
                f"{writer.name} of {buffer.tell():,} bytes is larger than the contract's "
                f"{EVENT_MAX_BYTES:,}-byte limit"
            )
        return buffer.getvalue()

    def decode(self, data: bytes) -> LifecycleEvent:
        """Decode and validate one message value; raise DecodeError or InvalidEventError."""
        if len(data) > EVENT_MAX_BYTES:
            raise DecodeError(
                f"message of {len(data):,} bytes is larger than the contract's "
                f"{EVENT_MAX_BYTES:,}-byte limit"
            )
        writer = self.writer_for(data)
        reader = self.registry.current(writer.name)
        buffer = io.BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(
                buffer, writer.schema, None if reader is writer else reader.schema
            )
        except Exception as exc:
            raise DecodeError(f"{writer.name} body is not valid Avro: {exc!r}") from exc
        if buffer.tell() != len(data):
            trailing = len(data) - buffer.tell()
            raise DecodeError(f"{writer.name} body has {trailing} trailing bytes after the record")
        if not isinstance(record, dict):
            raise DecodeError(f"{writer.name} body did not decode to a record")
        try:
            return EVENT_CLASSES_BY_SCHEMA[writer.name].from_record(record)
        except InvalidEventError:
            raise
        except Exception as exc:
            raise DecodeError(f"{writer.name} record could not be read: {exc!r}") from exc

    def writer_for(self, data: bytes) -> SchemaVersion:
        """The writer schema named by a message's single-object header."""
        if len(data) < HEADER_SIZE:
            raise DecodeError(f"message of {len(data)} bytes is shorter than the 10-byte header")
        if data[: len(MARKER)] != MARKER:
            raise DecodeError(
                f"message does not start with the single-object marker c301 (got {data[:2].hex()})"
            )
        digest = data[len(MARKER) : len(MARKER) + FINGERPRINT_SIZE]
        writer = self.registry.by_fingerprint(digest)
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {digest.hex()}")
        return writer
