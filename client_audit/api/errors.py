"""Error responses: one body shape, precise 4xx for bad input, never a stack trace.

Bad query input is 422 with each parameter at fault; a missing or refused token 401; an
unknown credential or path 404; an unreachable (or not yet migrated) database 503. Anything
unexpected is logged and answered with a bare 500 body.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from client_audit.api.models import ErrorBody, ProblemBody
from projections.queries.problems import Problem, problems_of

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=pydantic.BaseModel)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    422: "invalid_query",
    429: "too_many_requests",
    500: "internal_error",
    503: "database_unavailable",
}

_PLUS_HINT = " (a '+' in a URL query string means a space: send the offset as %2B, or use Z)"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, malformed or unknown bearer token."},
    429: {"model": ErrorBody,
          "description": "Too many refused tokens from this address; see Retry-After."},
    422: {"model": ErrorBody, "description": "A query parameter is invalid."},
    503: {"model": ErrorBody, "description": "The database is unavailable."},
}
"""The error responses every query route documents."""


class InvalidQueryError(Exception):
    """Query parameters the filters or page requests refused."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


def build(model: type[Model], values: dict[str, Any]) -> Model:
    """Validate query input into ``model``; InvalidQueryError names the parameters at fault."""
    given = {name: value for name, value in values.items() if value is not None}
    try:
        return model.model_validate(given)
    except pydantic.ValidationError as exc:
        raise InvalidQueryError(problems_of(exc)) from None


def _response(
    status: int, message: str, problems: Sequence[Problem] = (), headers: Any = None
) -> JSONResponse:
    body = ErrorBody(
        error=_CODES.get(status, "error"),
        message=message,
        problems=[
            ProblemBody(parameter=p.parameter, message=p.message, column=p.column)
            for p in problems
        ],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _invalid_query(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidQueryError)
    return _response(422, f"invalid query: {exc}", exc.problems)


async def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for detail in exc.errors():
        location = [part for part in detail.get("loc", ()) if isinstance(part, str)]
        parameter = location[-1] if len(location) > 1 else ""
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        given = detail.get("input")
        if isinstance(given, str) and " " in given and parameter in {"from", "to"}:
            message += _PLUS_HINT
        problems.append(Problem(parameter, message))
    return _response(422, "invalid query: " + "; ".join(str(p) for p in problems), problems)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Unreachable, overloaded or not-yet-migrated databases are 503; other errors are bugs."""
    unavailable = isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not unavailable:
        return await _unexpected(request, exc)
    log.warning("query failed on the database: %s", str(exc).splitlines()[0])
    return _response(503, "the database is unavailable; try again later")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error answering a query", exc_info=exc)
    return _response(500, "internal error; it was logged")


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the :class:`ErrorBody` shape."""
    app.add_exception_handler(InvalidQueryError, _invalid_query)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
