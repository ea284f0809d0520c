"""Alerts for SIEMs: RFC 5424 syslog and ArcSight CEF lines, and a TCP sender.

Every text an alert carries may have been written by an attacker (a credential id, a user
id, an event field), so no control character, line or paragraph separator, surrogate or
invisible formatting character reaches the output raw: CEF extension values write CR and
LF as ``\\r`` and ``\\n``, and every other such character, in every field of both formats,
is written ``\\uXXXX`` (a real backslash is always doubled, so the two cannot be confused).

Over TCP, syslog messages are octet-counted (RFC 6587 section 3.4.1) and CEF lines end
with LF (a CEF line never holds a raw LF).
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from typing import Literal

from projections.alerts.model import Alert
from projections.model.anomalies import Anomaly
from schemas.limits import FORBIDDEN_IN_IDENTIFIER

SiemFormat = Literal["syslog", "cef"]

FACILITY_AUTHPRIV = 10
SEVERITY_CRITICAL = 2
SEVERITY_WARNING = 4
SD_ID = "alert@32473"
MSGID = "anomaly"
NILVALUE = "-"
BOM = "\ufeff"
HOSTNAME_MAX, APP_NAME_MAX, PROCID_MAX = 255, 48, 128
"""Lengths of the RFC 5424 header fields (section 6)."""

CRITICAL_KINDS = frozenset(
    {Anomaly.USE_AFTER_DELETION, Anomaly.USE_OUTSIDE_ALLOWED_CIDRS, Anomaly.USE_AFTER_EXPIRY}
)
"""Kinds that make an alert critical (syslog severity 2, CEF 9); the rest are warnings."""

CEF_CRITICAL, CEF_WARNING = 9, 5
PRODUCT = "client-audit"

_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_SD_SPECIAL = re.compile(r'["\\\]]')
_CEF_HEADER_SPECIAL = re.compile(r"[|\\]")
_CEF_EXTENSION_SPECIAL = re.compile(r"[\\=]")


class SiemError(Exception):
    """A SIEM that could not be reached or did not take the frames."""


def _code_point(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04X}"


def _visible(text: str) -> str:
    """``text`` with every forbidden character written ``\\uXXXX``."""
    return FORBIDDEN_IN_IDENTIFIER.sub(_code_point, text)


def _header_field(value: str, limit: int) -> str:
    """A syslog header field: PRINTUSASCII only (others become ``_``), at most ``limit``."""
    cleaned = _NOT_PRINTUSASCII.sub("_", value)[:limit]
    return cleaned or NILVALUE


def _sd_value(value: str) -> str:
    escaped = _SD_SPECIAL.sub(lambda match: "\\" + match.group(), value)
    return _visible(escaped)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("alert instants must be timezone-aware")
    return instant.astimezone(UTC)


def _critical(alert: Alert) -> bool:
    return any(kind in CRITICAL_KINDS for kind in alert.kinds)


def _kinds(alert: Alert) -> str:
    return ",".join(kind.value for kind in alert.kinds)


def summary(alert: Alert) -> str:
    """A short human line about the alert (raw: the formats make it safe)."""
    source = f" from {alert.source_ip}" if alert.source_ip is not None else ""
    return (
        f"{_kinds(alert)}: {alert.event_type} of credential {alert.credential_id} "
        f"(user {alert.user_id}){source}"
    )


def syslog_message(
    alert: Alert, *, hostname: str, app_name: str = PRODUCT, procid: str = NILVALUE
) -> bytes:
    """The alert as one RFC 5424 message (facility authpriv), without transport framing."""
    severity = SEVERITY_CRITICAL if _critical(alert) else SEVERITY_WARNING
    timestamp = _utc(alert.flagged_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = {
        "id": alert.alert_id,
        "kinds": _kinds(alert),
        "credential": alert.credential_id,
        "event": alert.event_id,
        "partition": str(alert.position.partition),
        "offset": str(alert.position.offset),
        "leaf": str(alert.position.leaf_index),
        "hash": alert.position.chain_hash,
    }
    structured = "[" + SD_ID + "".join(
        f' {name}="{_sd_value(value)}"' for name, value in params.items()
    ) + "]"
    header = " ".join([
        f"<{FACILITY_AUTHPRIV * 8 + severity}>1",
        timestamp,
        _header_field(hostname, HOSTNAME_MAX),
        _header_field(app_name, APP_NAME_MAX),
        _header_field(procid, PROCID_MAX),
        MSGID,
    ])
    message = BOM + _visible(summary(alert).replace("\\", "\\\\"))
    return f"{header} {structured} {message}".encode()


def octet_counted(frame: bytes) -> bytes:
    """A syslog message framed for TCP: ``MSG-LEN SP SYSLOG-MSG`` (RFC 6587 §3.4.1)."""
    return str(len(frame)).encode("ascii") + b" " + frame


def _cef_header(value: str) -> str:
    return _visible(_CEF_HEADER_SPECIAL.sub(lambda match: "\\" + match.group(), value))


def _cef_value(value: str) -> str:
    escaped = _CEF_EXTENSION_SPECIAL.sub(lambda match: "\\" + match.group(), value)
    return _visible(escaped.replace("\r", "\\r").replace("\n", "\\n"))


def _epoch_ms(instant: datetime) -> str:
    return str(int(_utc(instant).timestamp() * 1000))


@lru_cache(maxsize=1)
def product_version() -> str:
    """The installed client-audit version ("0" when it is not installed)."""
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "0"


def _source_fields(source_ip: str | None) -> list[tuple[str, str]]:
    if source_ip is None:
        return []
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return [("cs6Label", "source address"), ("cs6", source_ip)]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return [("src", str(address))]
    return [("c6a2Label", "Source IPv6 Address"), ("c6a2", str(address))]


def cef_line(alert: Alert, *, version: str | None = None) -> str:
    """The alert as one CEF:0 line, without the trailing newline."""
    header = [
        "CEF:0",
        PRODUCT,
        PRODUCT,
        version if version is not None else product_version(),
        alert.kinds[0].value if alert.kinds else "ANOMALY",
        f"Credential anomaly: {_kinds(alert)}",
        str(CEF_CRITICAL if _critical(alert) else CEF_WARNING),
    ]
    extension: list[tuple[str, str]] = [
        ("rt", _epoch_ms(alert.flagged_at)),
        ("start", _epoch_ms(alert.occurred_at)),
        ("externalId", alert.alert_id),
        ("suser", alert.user_id),
        *_source_fields(alert.source_ip),
        ("cs1Label", "kinds"), ("cs1", _kinds(alert)),
        ("cs2Label", "credential"), ("cs2", alert.credential_id),
        ("cs3Label", "event"), ("cs3", alert.event_id),
        ("cs4Label", "chain hash"), ("cs4", alert.position.chain_hash),
        ("cs5Label", "client"), ("cs5", alert.client_id),
        ("cn1Label", "partition"), ("cn1", str(alert.position.partition)),
        ("cn2Label", "offset"), ("cn2", str(alert.position.offset)),
        ("cn3Label", "leaf"), ("cn3", str(alert.position.leaf_index)),
        ("act", alert.event_type),
        ("msg", summary(alert)),
    ]
    head = "|".join(header[:1] + [_cef_header(field) for field in header[1:]])
    return head + "|" + " ".join(f"{key}={_cef_value(value)}" for key, value in extension)


def frame(message: bytes, format: SiemFormat) -> bytes:
    """One message as it goes on the TCP stream: octet-counted syslog, or a CEF line + LF."""
    if format == "syslog":
        return octet_counted(message)
    if b"\n" in message or b"\r" in message:
        raise ValueError("a CEF line must not hold a raw line break")
    return message + b"\n"


Connect = Callable[[tuple[str, int], float], socket.socket]
"""How a connection is opened (``socket.create_connection`` by default)."""


def _open(address: tuple[str, int], timeout_s: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout_s)


class SiemSender:
    """Sends frames to one SIEM over one TCP connection, reconnecting as needed.

    Frames are sent as given: octet-counted syslog messages, or CEF lines ending in LF
    (see :func:`frame`). A batch that fails is sent again, whole, once on a new connection;
    if that fails too, SiemError. A SIEM may so receive a frame twice (the alert id tells
    the copies apart).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 10.0,
        connect: Connect = _open,
    ) -> None:
        self.address = (host, port)
        self.timeout_s = timeout_s
        self._connect = connect
        self._socket: socket.socket | None = None

    def send(self, frames: Sequence[bytes]) -> None:
        """Send frames, in order, on the open connection (opening one if needed)."""
        payload = b"".join(frames)
        if not payload:
            return
        try:
            self._send(payload)
        except OSError:
            self.close()
            try:
                self._send(payload)
            except OSError as exc:
                self.close()
                host, port = self.address
                raise SiemError(f"SIEM {host}:{port}: {exc}") from exc

    def _send(self, payload: bytes) -> None:
        if self._socket is not None and _closed_by_peer(self._socket):
            self.close()
        if self._socket is None:
            self._socket = self._connect(self.address, self.timeout_s)
            self._socket.settimeout(self.timeout_s)
        self._socket.sendall(payload)

    def close(self) -> None:
        """Close the connection (the next send opens a new one)."""
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None

    def __enter__(self) -> SiemSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _closed_by_peer(connection: socket.socket) -> bool:
    """Whether the SIEM closed or reset an idle connection (it never sends anything)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
