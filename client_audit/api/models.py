"""Response bodies of the API (the rows themselves are the query layer's row models)."""

from __future__ import annotations

from typing import Literal, Self

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from projections.queries import AuditEntry, CredentialRecord, Page
from projections.queries.saved_searches import SavedSearch


class _Body(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def json_body(body: BaseModel) -> Response:
    """``body`` as a JSON response, serialised once by pydantic (routes declare the model as
    their ``response_model`` for the OpenAPI document, and skip FastAPI's second pass)."""
    return Response(body.model_dump_json(), media_type="application/json")


class AuditEntriesPage(_Body):
    """One page of audit entries in position order; pass ``nextCursor`` back for the next."""

    entries: list[AuditEntry]
    next_cursor: str | None = Field(
        description="Cursor of the next page; null when this is the last page."
    )

    @classmethod
    def of(cls, page: Page[AuditEntry]) -> Self:
        return cls(entries=list(page.rows), next_cursor=page.next_cursor)


class CredentialsPage(_Body):
    """One page of credentials in id order; pass ``nextCursor`` back for the next."""

    credentials: list[CredentialRecord]
    next_cursor: str | None = Field(
        description="Cursor of the next page; null when this is the last page."
    )

    @classmethod
    def of(cls, page: Page[CredentialRecord]) -> Self:
        return cls(credentials=list(page.rows), next_cursor=page.next_cursor)


class Health(_Body):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]


class SavedSearchesBody(_Body):
    """Every saved search, by name (``query`` is the text of the search language)."""

    searches: list[SavedSearch]


class ProblemBody(_Body):
    parameter: str = Field(description="The query parameter at fault; empty for the whole query.")
    message: str
    column: int | None = Field(
        default=None,
        description="For a search query (q): the 1-based column of the offending term.",
    )


class ErrorBody(_Body):
    """Every error response: a stable code, a sentence, and the parameters at fault."""

    error: str = Field(description="invalid_query, unauthorized, not_found, ...")
    message: str
    problems: list[ProblemBody] = Field(default_factory=list)
