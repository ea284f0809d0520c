"""Response bodies of the API (the rows themselves are the query layer's row models)."""

from __future__ import annotations

from typing import Literal, Protocol, Self

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from projections.queries import AccessLogEntry, AuditEntry, CredentialRecord, Page
from projections.queries.saved_searches import SavedSearch


class RowCounter(Protocol):
    """Where a route says how many rows its response holds (the access record)."""

    def returned(self, rows: int) -> None: ...


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
    def of(cls, page: Page[AuditEntry], counter: RowCounter) -> Self:
        counter.returned(len(page.rows))
        return cls(entries=list(page.rows), next_cursor=page.next_cursor)


class CredentialsPage(_Body):
    """One page of credentials in id order; pass ``nextCursor`` back for the next."""

    credentials: list[CredentialRecord]
    next_cursor: str | None = Field(
        description="Cursor of the next page; null when this is the last page."
    )

    @classmethod
    def of(cls, page: Page[CredentialRecord], counter: RowCounter) -> Self:
        counter.returned(len(page.rows))
        return cls(credentials=list(page.rows), next_cursor=page.next_cursor)


class AccessLogPage(_Body):
    """One page of the access log in position order; pass ``nextCursor`` back for the next."""

    entries: list[AccessLogEntry]
    next_cursor: str | None = Field(
        description="Cursor of the next page; null when this is the last page."
    )

    @classmethod
    def of(cls, page: Page[AccessLogEntry], counter: RowCounter) -> Self:
        counter.returned(len(page.rows))
        return cls(entries=list(page.rows), next_cursor=page.next_cursor)


class AuditChainHead(_Body):
    """The end of one partition's audit chain: its last row's offset and chain hash."""

    topic: str
    partition: int
    last_offset: int
    chain_hash: str
    length: int = Field(description="Rows in the chain.")


class AccessChainHead(_Body):
    """The end of the access log's chain: its last row's position and chain hash."""

    last_position: int
    chain_hash: str
    length: int = Field(description="Rows in the chain.")


class ChainHeads(_Body):
    """The heads of every hash chain, worth recording elsewhere: a later head that does not
    extend a recorded one means a chain was rewritten."""

    audit_log: list[AuditChainHead]
    access_log: AccessChainHead | None = Field(
        description="Null when the access log's head row is missing (a damaged store)."
    )


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
