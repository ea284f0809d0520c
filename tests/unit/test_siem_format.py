"""SIEM output: RFC 5424 syslog and CEF lines read back with their grammars, hostile field
values kept from breaking out, and the TCP sender against a real local listener."""

from __future__ import annotations

import queue
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from projections.alerts.model import Alert, EntryPosition
from projections.model.anomalies import Anomaly
from relay.siem import (
    SiemError,
    SiemSender,
    cef_line,
    frame,
    octet_counted,
    syslog_message,
)

HOSTILE = 'cred"] [evil@1 x="y"\\ a=b |\x00\x1b\n\r\u2028\u0085\u202e Ωмир中文'
"""Quotes, a closing bracket, a backslash, = and |, NUL, ESC, LF, CR, LINE SEPARATOR, a C1
control, a bidi override, and Greek, Cyrillic and Chinese."""

HOSTILE_VISIBLE = (
    'cred"] [evil@1 x="y"\\ a=b |\\u0000\\u001B\\u000A\\u000D\\u2028\\u0085\\u202E Ωмир中文'
)
"""HOSTILE as it reads back from syslog: each forbidden character as \\uXXXX."""

ALERT = Alert(
    alert_id="5b0d7c1e-2f3a-5b4c-8d9e-0f1a2b3c4d5e",
    kinds=(Anomaly.USE_AFTER_DELETION, Anomaly.NEW_SOURCE_IP),
    event_id="evt-1",
    event_type="CredentialUsed",
    credential_id="cred-1",
    user_id="alice",
    client_id="client-1",
    source_ip="203.0.113.7",
    occurred_at=datetime(2026, 3, 3, 10, 0, 0, 250000, tzinfo=UTC),
    flagged_at=datetime(2026, 3, 3, 10, 0, 5, 123456, tzinfo=UTC),
    position=EntryPosition(
        topic="client-audit.credential-lifecycle.v1",
        partition=3,
        offset=41,
        leaf_index=40,
        chain_hash="ab" * 32,
    ),
    event={"event_type": "CredentialUsed"},
)

# --- RFC 5424 ------------------------------------------------------------------------------

PRINTUSASCII = rb"[\x21-\x7e]"
PARAM_VALUE = rb'(?:[^"\\\]]|\\.)*'
SYSLOG = re.compile(
    rb"<(?P<pri>[0-9]{1,3})>(?P<version>[1-9][0-9]{0,2}) "
    rb"(?P<timestamp>-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    rb"(?:Z|[+-][0-9]{2}:[0-9]{2})) "
    rb"(?P<hostname>" + PRINTUSASCII + rb"{1,255}) (?P<app>" + PRINTUSASCII + rb"{1,48}) "
    rb"(?P<procid>" + PRINTUSASCII + rb"{1,128}) (?P<msgid>" + PRINTUSASCII + rb"{1,32}) "
    rb"(?P<sd>-|(?:\[[^\x00-\x20=\]\"]{1,32}(?: [^\x00-\x20=\]\"]{1,32}=\"" + PARAM_VALUE
    + rb"\")*\])+)"
    rb"(?: (?P<msg>.*))?",
    re.DOTALL,
)
SD_PARAM = re.compile(rb' ([^\x00-\x20=\]"]{1,32})="(' + PARAM_VALUE + rb')"', re.DOTALL)


def parse_syslog(message: bytes) -> tuple[re.Match[bytes], dict[str, str]]:
    """The header match and the SD-PARAMs (unescaped as RFC 5424 §6.3.3 says)."""
    match = SYSLOG.fullmatch(message)
    assert match is not None, message
    params = {
        name.decode(): re.sub(rb'\\(["\\\]])', rb"\1", value).decode("utf-8")
        for name, value in SD_PARAM.findall(match["sd"])
    }
    return match, params


def test_syslog_message_follows_the_rfc_5424_grammar() -> None:
    match, params = parse_syslog(syslog_message(ALERT, hostname="relay-1", procid="4242"))
    assert match["pri"] == b"82"  # authpriv (10) * 8 + critical (2)
    assert match["version"] == b"1"
    assert match["timestamp"] == b"2026-03-03T10:00:05.123456Z"
    assert (match["hostname"], match["app"], match["procid"], match["msgid"]) == (
        b"relay-1", b"client-audit", b"4242", b"anomaly",
    )
    assert match["sd"].startswith(b"[alert@32473 ")
    assert params == {
        "id": ALERT.alert_id,
        "kinds": "USE_AFTER_DELETION,NEW_SOURCE_IP",
        "credential": "cred-1",
        "event": "evt-1",
        "partition": "3",
        "offset": "41",
        "leaf": "40",
        "hash": "ab" * 32,
    }
    assert match["msg"].startswith(b"\xef\xbb\xbf")
    assert match["msg"][3:].decode() == (
        "USE_AFTER_DELETION,NEW_SOURCE_IP: CredentialUsed of credential cred-1 "
        "(user alice) from 203.0.113.7"
    )


def test_warning_kinds_have_severity_4_and_the_time_is_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    alert = replace(
        ALERT,
        kinds=(Anomaly.NEW_SOURCE_IP,),
        flagged_at=datetime(2026, 3, 3, 19, 0, 5, tzinfo=tokyo),
    )
    match, _ = parse_syslog(syslog_message(alert, hostname="h"))
    assert match["pri"] == b"84"
    assert match["timestamp"] == b"2026-03-03T10:00:05.000000Z"
    assert match["procid"] == b"-"


def test_hostile_values_stay_inside_their_sd_param() -> None:
    alert = replace(ALERT, credential_id=HOSTILE, event_id="e]\\\"", user_id=HOSTILE)
    message = syslog_message(alert, hostname="h")
    match, params = parse_syslog(message)
    assert list(params) == ["id", "kinds", "credential", "event", "partition", "offset",
                            "leaf", "hash"]
    assert params["credential"] == HOSTILE_VISIBLE
    assert params["event"] == 'e]\\"'
    text = message.decode("utf-8")
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202e]", text)
    assert "Ωмир中文" in match["msg"].decode()


def test_header_fields_are_printable_ascii_within_their_limits() -> None:
    match, _ = parse_syslog(
        syslog_message(ALERT, hostname="relay one\nΩ", app_name="a" * 60, procid="")
    )
    assert match["hostname"] == b"relay_one__"
    assert match["app"] == b"a" * 48
    assert match["procid"] == b"-"
    long_host = syslog_message(ALERT, hostname="h" * 300)
    assert parse_syslog(long_host)[0]["hostname"] == b"h" * 255


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        syslog_message(replace(ALERT, flagged_at=datetime(2026, 3, 3)), hostname="h")


def read_octet_counted(stream: bytes) -> list[bytes]:
    """Frames of an RFC 6587 octet-counted stream (MSG-LEN SP SYSLOG-MSG ...)."""
    frames = []
    while stream:
        length, _, rest = stream.partition(b" ")
        assert length.isdigit() and not length.startswith(b"0")
        frames.append(rest[: int(length)])
        stream = rest[int(length) :]
    return frames


def test_octet_counting_counts_bytes_not_characters() -> None:
    assert octet_counted(b"hello") == b"5 hello"
    message = syslog_message(replace(ALERT, user_id="Ωмир中文"), hostname="h")
    framed = octet_counted(message)
    assert framed.startswith(str(len(message)).encode() + b" ")
    assert read_octet_counted(framed + framed) == [message, message]


# --- CEF -------------------------------------------------------------------------------------


def split_cef_header(line: str) -> tuple[list[str], str]:
    """The seven unescaped header fields and the raw extension of a CEF line."""
    fields: list[str] = []
    current = ""
    index = 0
    while len(fields) < 7:
        char = line[index]
        if char == "\\" and line[index + 1] in "|\\":
            current += line[index + 1]
            index += 2
            continue
        if char == "|":
            fields.append(current)
            current = ""
        else:
            current += char
        index += 1
    return fields, line[index:]


CEF_PAIR = re.compile(r"([A-Za-z0-9_]+)=((?:[^\\=]|\\.)*?)(?= [A-Za-z0-9_]+=|\Z)", re.DOTALL)
CEF_UNESCAPE = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


def cef_extension(extension: str) -> dict[str, str]:
    pairs = CEF_PAIR.findall(extension)
    assert " ".join(f"{key}={value}" for key, value in pairs) == extension
    return {
        key: re.sub(r"\\([\\=nr])", lambda m: CEF_UNESCAPE[m.group(1)], value)
        for key, value in pairs
    }


def test_cef_line_has_the_header_and_extension_fields() -> None:
    line = cef_line(ALERT, version="1.2.3")
    header, extension = split_cef_header(line)
    assert header == [
        "CEF:0", "client-audit", "client-audit", "1.2.3", "USE_AFTER_DELETION",
        "Credential anomaly: USE_AFTER_DELETION,NEW_SOURCE_IP", "9",
    ]
    fields = cef_extension(extension)
    assert fields["rt"] == str(int(ALERT.flagged_at.timestamp() * 1000)) == "1772532005123"
    assert fields["start"] == "1772532000250"
    assert fields["suser"] == "alice"
    assert fields["src"] == "203.0.113.7"
    assert fields["externalId"] == ALERT.alert_id
    assert (fields["cs1Label"], fields["cs1"]) == ("kinds", "USE_AFTER_DELETION,NEW_SOURCE_IP")
    assert (fields["cs2Label"], fields["cs2"]) == ("credential", "cred-1")
    assert (fields["cs3Label"], fields["cs3"]) == ("event", "evt-1")
    assert fields["cs4"] == "ab" * 32
    assert (fields["cn1"], fields["cn2"], fields["cn3"]) == ("3", "41", "40")


def test_cef_severity_and_source_addresses() -> None:
    warning = replace(ALERT, kinds=(Anomaly.SEQUENCE_GAP,), source_ip="::ffff:10.1.2.3")
    header, extension = split_cef_header(cef_line(warning, version="1"))
    assert header[4:] == ["SEQUENCE_GAP", "Credential anomaly: SEQUENCE_GAP", "5"]
    assert cef_extension(extension)["src"] == "10.1.2.3"
    v6 = cef_extension(split_cef_header(cef_line(replace(ALERT, source_ip="2001:db8::1")))[1])
    assert "src" not in v6
    assert (v6["c6a2Label"], v6["c6a2"]) == ("Source IPv6 Address", "2001:db8::1")
    none = cef_extension(split_cef_header(cef_line(replace(ALERT, source_ip=None)))[1])
    assert "src" not in none and "c6a2" not in none


def test_hostile_values_cannot_add_cef_fields_or_lines() -> None:
    alert = replace(
        ALERT, credential_id=HOSTILE, user_id="alice src=1.2.3.4", event_type="a|b\\c",
        kinds=(Anomaly.USE_AFTER_DELETION,),
    )
    line = cef_line(alert, version="1|0\\\n")
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202e]", line)
    header, extension = split_cef_header(line)
    assert header[3] == "1|0\\\\u000A"
    fields = cef_extension(extension)
    assert fields["suser"] == "alice src=1.2.3.4"
    assert fields["src"] == "203.0.113.7"
    assert fields["act"] == "a|b\\c"
    assert fields["cs2"] == (
        'cred"] [evil@1 x="y"\\ a=b |\\u0000\\u001B\n\r\\u2028\\u0085\\u202E Ωмир中文'
    )


def test_frames_for_the_wire() -> None:
    assert frame(b"<82>1 -", "syslog") == b"7 <82>1 -"
    assert frame(b"CEF:0|x", "cef") == b"CEF:0|x\n"
    with pytest.raises(ValueError, match="line break"):
        frame(b"CEF:0|x\ny", "cef")


# --- the TCP sender --------------------------------------------------------------------------


class Listener:
    """A TCP server on 127.0.0.1 collecting what each connection sent."""

    def __init__(self, close_after_first_read: bool = False) -> None:
        self.connections: queue.Queue[bytes] = queue.Queue()
        received = self.connections

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while chunk := self.request.recv(65536):
                    data += chunk
                    if close_after_first_read:
                        self.request.shutdown(socket.SHUT_RDWR)
                        break
                received.put(data)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def next_connection(self) -> bytes:
        return self.connections.get(timeout=5)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.stop()


def test_sender_delivers_frames_in_order_on_one_connection(listener: Listener) -> None:
    first = syslog_message(ALERT, hostname="h")
    second = syslog_message(replace(ALERT, alert_id="second"), hostname="h")
    with SiemSender("127.0.0.1", listener.port, timeout_s=2) as sender:
        sender.send([octet_counted(first), octet_counted(second)])
        sender.send([octet_counted(first)])
    assert read_octet_counted(listener.next_connection()) == [first, second, first]


def test_sender_sends_cef_lines(listener: Listener) -> None:
    lines = [cef_line(ALERT, version="1"), cef_line(replace(ALERT, user_id="bob"), version="1")]
    with SiemSender("127.0.0.1", listener.port, timeout_s=2) as sender:
        sender.send([frame(line.encode(), "cef") for line in lines])
    assert listener.next_connection().decode().split("\n") == [*lines, ""]


def test_sender_reconnects_after_the_siem_closed_the_connection() -> None:
    closing = Listener(close_after_first_read=True)
    try:
        sender = SiemSender("127.0.0.1", closing.port, timeout_s=2)
        sender.send([b"5 first"])
        assert closing.next_connection() == b"5 first"
        sender.send([b"6 second"])
        assert closing.next_connection() == b"6 second"
        sender.close()
    finally:
        closing.stop()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_sender_fails_with_the_reason_when_nothing_listens() -> None:
    port = unused_port()
    sender = SiemSender("127.0.0.1", port, timeout_s=1)
    with pytest.raises(SiemError, match=rf"SIEM 127.0.0.1:{port}: .*refused"):
        sender.send([b"5 hello"])
    sender.close()


def test_sending_nothing_opens_no_connection() -> None:
    def refuse(address: tuple[str, int], timeout_s: float) -> socket.socket:
        raise AssertionError("no connection expected")

    SiemSender("127.0.0.1", 9, connect=refuse).send([])


class BrokenPipe(socket.socket):
    """A socket whose sends fail as they do once a SIEM has gone away."""

    def sendall(self, data: object, flags: int = 0) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_failed_send_is_repeated_once_on_a_new_connection(listener: Listener) -> None:
    opened: list[str] = []

    def connect(address: tuple[str, int], timeout_s: float) -> socket.socket:
        if not opened:
            opened.append("broken")
            return BrokenPipe()
        opened.append("real")
        return socket.create_connection(address, timeout=timeout_s)

    with SiemSender("127.0.0.1", listener.port, timeout_s=2, connect=connect) as sender:
        sender.send([b"5 hello"])
    assert opened == ["broken", "real"]
    assert listener.next_connection() == b"5 hello"


def test_a_send_failing_twice_is_a_siem_error_with_the_reason() -> None:
    opened: list[BrokenPipe] = []

    def connect(address: tuple[str, int], timeout_s: float) -> socket.socket:
        opened.append(BrokenPipe())
        return opened[-1]

    sender = SiemSender("siem.example.com", 6514, connect=connect)
    with pytest.raises(SiemError, match=r"SIEM siem\.example\.com:6514: .*Broken pipe"):
        sender.send([b"5 hello"])
    assert len(opened) == 2
    assert all(broken.fileno() == -1 for broken in opened)
