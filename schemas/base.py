"""Frozen model base whose validation failures raise the contract's own error type."""

from __future__ import annotations

from typing import Any, NoReturn, Self

import pydantic
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from schemas.errors import InvalidEventError, Problem


def problems_of(error: pydantic.ValidationError) -> list[Problem]:
    """Turn pydantic's error list into field/message problems named as in the Avro schema."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        prefix = ".".join(str(part) for part in detail["loc"])
        nested = detail.get("ctx", {}).get("error")
        if isinstance(nested, InvalidEventError):
            problems.extend(_prefixed(prefix, problem) for problem in nested.problems)
            continue
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(Problem(prefix or "(event)", message))
    return problems


def _prefixed(prefix: str, problem: Problem) -> Problem:
    if not prefix:
        return problem
    if problem.field == "(event)":
        return Problem(prefix, problem.message)
    return Problem(f"{prefix}.{problem.field}", problem.message)


def reject(field: str, message: str) -> NoReturn:
    """Fail a cross-field check, naming the field at fault (its path within the model)."""
    raise InvalidEventError("value", [Problem(field, message)])


class ContractModel(BaseModel):
    """Immutable value of the event contract; field aliases are the Avro field names."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise InvalidEventError(type(self).__name__, problems_of(exc)) from None

    # Validating a model nested in another one needs no call to this __init__ (the outer
    # one turns every error into InvalidEventError): marked as pydantic's own, nested
    # models are validated inside pydantic-core instead of through Python, once each.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def from_record(cls, record: Any) -> Self:
        """Validate a decoded Avro record or JSON object (camelCase field names)."""
        try:
            return cls.model_validate(record)
        except pydantic.ValidationError as exc:
            raise InvalidEventError(cls.__name__, problems_of(exc)) from None
