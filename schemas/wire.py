"""The wire format of lifecycle messages on Kafka (documented in README, "Wire format").

Value: Avro single-object encoding -- the two marker bytes C3 01, the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's parsing canonical form, then the Avro binary
encoding of the event record. Key: the credential id, UTF-8. Headers below, all UTF-8.
"""

from __future__ import annotations

MARKER = b"\xc3\x01"
FINGERPRINT_SIZE = 8
HEADER_SIZE = len(MARKER) + FINGERPRINT_SIZE

HEADER_EVENT_TYPE = "event-type"
"""The envelope's eventType, e.g. USED."""

HEADER_SCHEMA_FINGERPRINT = "schema-fingerprint"
"""The writer schema fingerprint as 16 lower-case hex digits (the same 8 bytes as the value)."""

HEADER_SCHEMA_NAME = "schema-name"
"""The writer schema's record full name, e.g. clientaudit.events.CredentialUsed."""

HEADER_CONTENT_TYPE = "content-type"
CONTENT_TYPE = "application/avro; encoding=single-object"
