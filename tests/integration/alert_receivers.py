"""Receivers of the alert delivery tests: a webhook endpoint that checks Standard Webhooks
signatures and answers as told, and TCP listeners that parse syslog and CEF frames."""

from __future__ import annotations

import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import orjson

from relay.signing import SignatureError, verify


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request: the status, the body, after how long."""

    status: int = 200
    text: str = "ok"
    delay_s: float = 0.0


Plan = Callable[[str, int], Answer]
"""The answer to the ``n``-th request (1-based) carrying a given ``webhook-id``."""


def always(answer: Answer) -> Plan:
    return lambda _webhook_id, _number: answer


def failing_first(times: int, answer: Answer) -> Plan:
    """``answer`` for the first ``times`` requests of each webhook-id, then 200."""
    return lambda _webhook_id, number: answer if number <= times else Answer()


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it: path, headers (lower-case names), exact body,
    whether its signature verified (None) or why not, and the answer given."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_error: str | None
    status: int
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def document(self) -> dict[str, Any]:
        loaded: dict[str, Any] = orjson.loads(self.body)
        return loaded


@dataclass
class _Endpoint:
    secret: bytes
    plan: Plan


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port) in a thread. Each configured path has a
    secret and a plan; every request is verified with :func:`relay.signing.verify`
    (401 when it does not verify, 404 on an unknown path) and recorded."""

    def __init__(self) -> None:
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._counts: dict[tuple[str, str], int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def endpoint(self, path: str, secret: bytes, plan: Plan | None = None) -> None:
        """Answer on ``path`` as ``plan`` says (default: 200 to everything)."""
        with self._lock:
            self._endpoints[path] = _Endpoint(secret, plan or always(Answer()))

    def answer(self, path: str, plan: Plan) -> None:
        """Change how ``path`` answers from now on."""
        with self._lock:
            self._endpoints[path].plan = plan

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length)
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            endpoint = self._endpoints.get(request.path)
        if endpoint is None:
            error: str | None = "unknown path"
            answer = Answer(404, "no such endpoint")
        else:
            try:
                verify(endpoint.secret, headers, body, now=int(time.time()))
                error = None
            except SignatureError as exc:
                error = str(exc)
            if error is not None:
                answer = Answer(401, "bad signature")
            else:
                key = (request.path, headers["webhook-id"])
                with self._lock:
                    self._counts[key] = number = self._counts.get(key, 0) + 1
                answer = endpoint.plan(headers["webhook-id"], number)
        with self._lock:
            self._received.append(
                Received(request.path, headers, body, error, answer.status, time.time())
            )
        if answer.delay_s:
            time.sleep(answer.delay_s)
        payload = answer.text.encode()
        try:
            request.send_response(answer.status)
            request.send_header("content-type", "text/plain")
            request.send_header("content-length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except OSError:
            pass  # the relay gave up waiting (a timeout test)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- SIEM ----------------------------------------------------------------------------------


_SYSLOG = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) (?P<procid>\S+)"
    rb" (?P<msgid>\S+) \[(?P<sd_id>[^ \]]+)(?P<params>(?: [^=\s\]\"]+=\"(?:[^\"\\]|\\.)*\")*)\]"
    rb"(?: (?P<msg>.*))?\Z",
    re.DOTALL,
)
_SD_PARAM = re.compile(r' ([^=\s\]"]+)="((?:[^"\\]|\\.)*)"')
_CEF_KEY = re.compile(r" (?=[A-Za-z0-9_]+=)")
_CEF_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class SyslogMessage:
    """An RFC 5424 message as a SIEM parses it."""

    priority: int
    timestamp: str
    hostname: str
    app_name: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    message: str


@dataclass(frozen=True)
class CefEvent:
    """A CEF:0 line: its seven header fields and its extension."""

    header: list[str]
    extension: dict[str, str]


def parse_syslog(frame: bytes) -> SyslogMessage:
    match = _SYSLOG.fullmatch(frame)
    assert match is not None, f"not an RFC 5424 message: {frame[:200]!r}"
    params = {
        name: re.sub(r"\\(.)", r"\1", value)
        for name, value in _SD_PARAM.findall(match["params"].decode())
    }
    message = match["msg"] or b""
    assert message.startswith("\ufeff".encode()), "MSG is UTF-8 with a BOM (RFC 5424 6.4)"
    return SyslogMessage(
        int(match["pri"]), match["timestamp"].decode(), match["hostname"].decode(),
        match["app"].decode(), match["msgid"].decode(), match["sd_id"].decode(), params,
        message[3:].decode(),
    )


def octet_frames(stream: bytes) -> Iterator[bytes]:
    """The complete octet-counted frames of a TCP stream (RFC 6587 3.4.1)."""
    at = 0
    while True:
        space = stream.find(b" ", at)
        if space < 0:
            return
        length_text = stream[at:space]
        assert length_text.isdigit(), f"not an octet count: {stream[at:at + 20]!r}"
        end = space + 1 + int(length_text)
        if end > len(stream):
            return
        yield stream[space + 1:end]
        at = end


def parse_cef(line: str) -> CefEvent:
    assert line.startswith("CEF:0|"), line[:80]
    fields: list[str] = []
    current, index = "", 0
    while len(fields) < 7:
        char = line[index]
        if char == "\\":
            current += line[index + 1]
            index += 2
        elif char == "|":
            fields.append(current)
            current, index = "", index + 1
        else:
            current += char
            index += 1
    extension: dict[str, str] = {}
    for pair in _CEF_KEY.split(" " + line[index:]):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        unescaped = _CEF_ESCAPE.sub(
            lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value
        )
        extension[key] = unescaped
    return CefEvent(fields, extension)


class SiemListener:
    """A TCP server on 127.0.0.1 (a free port) in a thread, keeping every byte each
    connection sent."""

    def __init__(self, format: Literal["syslog", "cef"]) -> None:
        self.format = format
        self._lock = threading.Lock()
        self._streams: list[bytearray] = []
        listener = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                stream = bytearray()
                with listener._lock:
                    listener._streams.append(stream)
                while chunk := self.request.recv(65536):
                    with listener._lock:
                        stream.extend(chunk)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def connections(self) -> int:
        with self._lock:
            return len(self._streams)

    def syslog(self) -> list[SyslogMessage]:
        with self._lock:
            streams = [bytes(stream) for stream in self._streams]
        return [parse_syslog(frame) for stream in streams for frame in octet_frames(stream)]

    def cef(self) -> list[CefEvent]:
        with self._lock:
            streams = [bytes(stream) for stream in self._streams]
        events = []
        for stream in streams:
            *complete, _partial = stream.split(b"\n")
            events += [parse_cef(line.decode()) for line in complete]
        return events

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
