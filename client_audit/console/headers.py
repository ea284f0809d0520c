"""The headers of every console response: a Content-Security-Policy without
``unsafe-inline`` (scripts and styles only from our own files), no framing, no sniffing, no
referrer to other sites (the URL holds the query), and pages never cached."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

STATIC_PREFIX = "/console/static/"


class ConsoleHeaders:
    """Adds :data:`HEADERS` to responses under ``prefix``; pages get ``no-store``."""

    def __init__(self, app: ASGIApp, prefix: str = "/console") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        inside = path == self.prefix or path.startswith(self.prefix + "/")
        if scope["type"] != "http" or not inside:
            await self.app(scope, receive, send)
            return
        cache = b"public, max-age=3600" if path.startswith(STATIC_PREFIX) else b"no-store"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value) for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                message["headers"] = [*headers, *HEADERS, (b"cache-control", cache)]
            await send(message)

        await self.app(scope, receive, with_headers)
