"""Webhook signatures as the Standard Webhooks specification defines them (symmetric ``v1``).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the signature is
``v1,`` and the base64 of its HMAC-SHA256 under the secret; a ``webhook-signature`` header
may hold several space-separated signatures (secret rotation). Secrets are written
``whsec_`` and base64, and decode to 24 to 64 bytes. No error message holds a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300
"""How far the ``webhook-timestamp`` may be from the receiver's clock, either way."""


class SignatureError(ValueError):
    """A delivery whose headers or signature do not verify."""


def parse_secret(text: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (padding may be left out)."""
    if not text.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret is written {SECRET_PREFIX}<base64>")
    encoded = text[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"the part of a webhook secret after {SECRET_PREFIX} must be base64"
        ) from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValueError(
            f"a webhook secret must decode to {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} "
            f"bytes (got {len(key)})"
        )
    return key


def _digest(secret: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(secret, signed, hashlib.sha256).digest()


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of a delivery (message id, unix seconds, exact body)."""
    if not msg_id or "." in msg_id:
        raise ValueError("a webhook message id must be non-empty and hold no '.'")
    if timestamp < 0:
        raise ValueError(f"a webhook timestamp is unix seconds (got {timestamp})")
    encoded = base64.b64encode(_digest(secret, msg_id, str(timestamp), body)).decode("ascii")
    return f"{SIGNATURE_VERSION},{encoded}"


def webhook_headers(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed delivery of ``body`` (a JSON document)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise SignatureError(f"missing header {name}")


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a received delivery (header names in any case); SignatureError if it fails."""
    msg_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp").strip()
    signatures = _header(headers, "webhook-signature")
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise SignatureError("webhook-timestamp is not unix seconds")
    timestamp = int(timestamp_text)
    if timestamp < now - tolerance_s:
        raise SignatureError(f"webhook-timestamp is more than {tolerance_s}s in the past")
    if timestamp > now + tolerance_s:
        raise SignatureError(f"webhook-timestamp is more than {tolerance_s}s in the future")
    expected = _digest(secret, msg_id, timestamp_text, body)
    for versioned in signatures.split():
        version, _, encoded = versioned.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, candidate):
            return
    raise SignatureError("no webhook-signature matches")
