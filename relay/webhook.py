"""One webhook delivery attempt: the address guard, the signed POST, the answer in a line."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from projections.alerts.model import Alert
from projections.alerts.relaying import Attempt
from projections.model.addresses import Network
from relay.config import WebhookEndpoint
from relay.guard import AddressRefused, check_destination
from relay.messages import webhook_body
from relay.signing import webhook_headers

ANSWER_PREVIEW = 200
"""Characters of an endpoint's answer kept with an attempt."""

ANSWER_BYTES = 4096
"""Bytes of an endpoint's answer read at most (the rest is never read)."""


def _printable(text: str) -> str:
    """``text`` on one line without control characters (it reaches terminals and logs)."""
    return "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text)


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by ``address`` (one the guard checked), and the Host
    header naming the original host: the request goes where the guard looked, however the
    host's name resolves a moment later (no DNS rebinding past the guard). TLS still checks
    the certificate against the original name (sent as SNI)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl(), host


def post_alert(
    endpoint: WebhookEndpoint,
    alert: Alert,
    *,
    allowed: Sequence[Network],
    now: Callable[[], datetime],
    client: httpx.Client,
) -> Attempt:
    """POST ``alert`` to ``endpoint``, signed as Standard Webhooks says (``webhook-id`` is
    the alert id, the same on every retry); never raises for the endpoint's failures."""
    at = now()
    started = time.monotonic()

    def outcome(succeeded: bool, result: str, status: int | None = None) -> Attempt:
        elapsed = int((time.monotonic() - started) * 1000)
        return Attempt(at, succeeded, _printable(result), elapsed, status)

    url = urlsplit(endpoint.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        checked = check_destination(url.hostname or "", port, allowed)
    except AddressRefused as exc:
        return outcome(False, f"refused by the address guard: {exc}")
    body = webhook_body(alert)
    headers = webhook_headers(endpoint.secret, alert.alert_id, int(at.timestamp()), body)
    pinned, host = pinned_url(endpoint.url, checked[0])
    headers["host"] = host
    try:
        with client.stream(
            "POST", pinned, content=body, headers=headers, timeout=endpoint.timeout_s,
            extensions={"sni_hostname": url.hostname or ""},
        ) as response:
            answer = _answer(response, started + endpoint.timeout_s)
    except httpx.TimeoutException:
        return outcome(False, f"no answer within {endpoint.timeout_s:g} s")
    except httpx.HTTPError as exc:
        return outcome(False, f"{type(exc).__name__}: {exc}")
    result = f"HTTP {response.status_code}" + (f": {answer}" if answer else "")
    return outcome(response.is_success, result, response.status_code)


def _answer(response: httpx.Response, deadline: float) -> str:
    """The start of an endpoint's answer: at most ANSWER_BYTES read, and no reading past
    ``deadline`` (an endpoint that trickles its answer cannot hold the relay)."""
    kept = bytearray()
    for chunk in response.iter_raw():
        kept.extend(chunk)
        if len(kept) >= ANSWER_BYTES or time.monotonic() > deadline:
            break
    text = bytes(kept[:ANSWER_BYTES]).decode("utf-8", errors="replace")
    return text[:ANSWER_PREVIEW].strip()
