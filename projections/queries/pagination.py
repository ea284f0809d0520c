"""Page requests, pages, and walking every page of a question.

Audit entries are paged by ``position`` (the audit log's append order), credentials by
``credential_id``: keyset pagination, so a page costs the same wherever it starts and rows
appended meanwhile never shift the pages already handed out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from projections.queries.cursors import (
    AuditCursor,
    CredentialCursor,
    decode_audit_cursor,
    decode_credential_cursor,
)
from projections.queries.values import QueryModel

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
"""Rows per page: 1 to 1000."""

Row = TypeVar("Row")


class PageRequest(QueryModel):
    """How many rows a page holds."""

    limit: Limit = DEFAULT_LIMIT


class AuditPageRequest(PageRequest):
    """Which page of audit entries: at most ``limit``, past the cursor's position, oldest
    first (or ``newest_first``; a cursor continues only a walk in its own direction)."""

    newest_first: bool = False
    cursor: Annotated[AuditCursor | None, BeforeValidator(
        lambda value: None if value is None else decode_audit_cursor(value)
    )] = None

    @field_validator("cursor")
    @classmethod
    def _same_direction(
        cls, cursor: AuditCursor | None, info: ValidationInfo
    ) -> AuditCursor | None:
        if cursor is not None and cursor.descending != info.data.get("newest_first", False):
            order = "newest" if cursor.descending else "oldest"
            raise ValueError(f"continues a walk {order} first; this question goes the other way")
        return cursor


class CredentialPageRequest(PageRequest):
    """Which page of credentials: at most ``limit``, after the cursor's credential id."""

    cursor: Annotated[CredentialCursor | None, BeforeValidator(
        lambda value: None if value is None else decode_credential_cursor(value)
    )] = None


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """Up to ``limit`` rows in order, and the cursor of the next page (None: this is the last)."""

    rows: tuple[Row, ...]
    next_cursor: str | None


Request = TypeVar("Request", bound=PageRequest)


def walk(
    fetch: Callable[[Request], Page[Row]],
    first: Request,
    most: int | None = None,
) -> Iterator[Row]:
    """Every row of every page from ``first`` on, one page in memory at a time.

    ``most`` stops after that many rows (None: all). ``fetch`` is called once per page.
    """
    request: Request = first
    remaining = most
    while True:
        if remaining is not None and remaining < request.limit:
            request = request.model_copy(update={"limit": max(remaining, 1)})
        page = fetch(request)
        for row in page.rows:
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            yield row
        if page.next_cursor is None or remaining == 0:
            return
        request = type(request).model_validate(
            request.model_dump(by_alias=True, exclude={"cursor"}) | {"cursor": page.next_cursor}
        )
