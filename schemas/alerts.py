"""The alert record (``clientaudit.alerts.Alert``): its schema, and Avro single-object bytes.

Alerts use the same single-object encoding as lifecycle events (:mod:`schemas.wire`): the
marker C3 01, the writer schema's 8-byte CRC-64-AVRO fingerprint, the Avro body.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas.errors import DecodeError, EncodeError
from schemas.registry import AVRO_DIR
from schemas.wire import HEADER_SIZE, MARKER

ALERT_SCHEMA_NAME = "clientaudit.alerts.Alert"
ALERT_CONTENT_TYPE = "application/avro; encoding=single-object"


@cache
def alert_schema() -> tuple[dict[str, Any], bytes]:
    """The current alert schema (parsed) and its fingerprint."""
    schema = load_schema(str(AVRO_DIR / f"{ALERT_SCHEMA_NAME}.avsc"))
    if not isinstance(schema, dict):
        raise TypeError(f"{ALERT_SCHEMA_NAME}.avsc does not hold a record schema")
    digest = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    parsed = parse_schema(schema)
    if not isinstance(parsed, dict):
        raise TypeError(f"{ALERT_SCHEMA_NAME}.avsc did not parse to a record schema")
    return parsed, digest


def encode_alert(record: dict[str, Any]) -> bytes:
    """The single-object bytes of an alert record (Avro field names)."""
    schema, digest = alert_schema()
    buffer = io.BytesIO()
    buffer.write(MARKER)
    buffer.write(digest)
    try:
        schemaless_writer(buffer, schema, record)
    except (ValueError, TypeError, OverflowError) as exc:
        raise EncodeError(f"cannot encode {ALERT_SCHEMA_NAME}: {exc}") from exc
    return buffer.getvalue()


def decode_alert(data: bytes) -> dict[str, Any]:
    """The alert record of single-object bytes written with the current alert schema."""
    schema, digest = alert_schema()
    if data[: len(MARKER)] != MARKER or data[len(MARKER) : HEADER_SIZE] != digest:
        raise DecodeError(f"not a {ALERT_SCHEMA_NAME} single-object message")
    buffer = io.BytesIO(data)
    buffer.seek(HEADER_SIZE)
    try:
        record = schemaless_reader(buffer, schema, None)
    except Exception as exc:
        raise DecodeError(f"{ALERT_SCHEMA_NAME} body is not valid Avro: {exc!r}") from exc
    if not isinstance(record, dict) or buffer.tell() != len(data):
        raise DecodeError(f"{ALERT_SCHEMA_NAME} body is not one record")
    return record
