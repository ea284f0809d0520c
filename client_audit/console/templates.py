"""Rendering console pages: Jinja2 with autoescaping always on and strict undefined names.

Stored text (ids, display names, reasons) reaches a page only through autoescaping, and
display text first through :func:`client_audit.display.visible`, so a control or direction
character is shown as an escape (``\\u202e``) rather than obeyed; templates also isolate such
text in ``<bdi>`` so right-to-left text cannot reorder its neighbours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from client_audit.console.auth import ConsoleReader
from client_audit.display import visible

NAVIGATION = (
    ("search", "Search", "/console/search"),
    ("roles", "Roles", "/console/roles"),
    ("anomalies", "Anomalies", "/console/anomalies"),
    ("integrity", "Integrity", "/console/integrity"),
    ("schemas", "Schemas", "/console/schemas"),
)


def instant(value: datetime | None) -> str:
    """An instant as UTC text to the second, ``Z`` marked (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso(value: datetime | None) -> str:
    """An instant as ISO-8601 UTC text with microseconds (for links and inputs)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown(value: object) -> str:
    """Text fit to show: None empty, non-printable characters escaped (HTML comes later)."""
    return "" if value is None else visible(str(value))


def credential_path(credential_id: str) -> str:
    return f"/console/credentials/{quote(credential_id, safe='')}"


def search_path(query: str, **parameters: str) -> str:
    given = {"q": query, **{name: value for name, value in parameters.items() if value}}
    return f"/console/search?{urlencode(given)}"


def term(qualifier: str, value: str) -> str:
    """One search term ``qualifier:"value"``, quotes and backslashes in the value escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{qualifier}:"{escaped}"'


def with_query(path: str, **parameters: str | None) -> str:
    given = {name: value for name, value in parameters.items() if value}
    return f"{path}?{urlencode(given)}" if given else path


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("client_audit.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(instant=instant, iso=iso, shown=shown)
    env.globals.update(
        credential_path=credential_path, search_path=search_path, with_query=with_query,
        term=term,
        navigation=NAVIGATION,
    )
    return env


class Pages:
    """The console's templates, compiled once per application."""

    def __init__(self) -> None:
        self.environment = environment()

    def render(
        self,
        request: Request,
        template: str,
        *,
        reader: ConsoleReader | None,
        active: str = "",
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        form_token = reader.session.form_token if reader and reader.session else None
        body = self.environment.get_template(template).render(
            request=request, reader=reader, active=active, sign_out_token=form_token,
            status_code=status_code, **context,
        )
        return HTMLResponse(body, status_code=status_code, headers=headers)


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.console_pages
    return pages
