"""Structured logs on stderr: logfmt-style text, or JSON lines (CLIENT_AUDIT_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from client_audit.display import visible, visible_json

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self.as_json:
            return visible_json(json.dumps(fields, default=str, ensure_ascii=False))
        return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


def _quote(value: object) -> str:
    """A logfmt value: quoted when it holds a space, ``=`` or a quote; anything that is not
    printable escaped (a hostile id or reason must not drive the terminal reading the log)."""
    text = visible(str(value))
    if not text or any(char in text for char in ' ="'):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure(verbose: bool = False) -> None:
    """Route every log record to stderr once, at INFO (or DEBUG with --verbose)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(os.environ.get("CLIENT_AUDIT_LOG_FORMAT") == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("kafka", "alembic", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    # kafka-python warns on every SASL_PLAINTEXT connection that SCRAM runs unencrypted
    # (the password itself is never sent); the README says so once instead.
    logging.getLogger("kafka.net.sasl").setLevel(logging.DEBUG if verbose else logging.ERROR)
