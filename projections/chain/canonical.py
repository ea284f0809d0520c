"""The canonical record of an event: the ``event`` member of its entry document.

It is derived from the event's stored payload (:func:`projections.db.rows.payload_of`,
pydantic's JSON form with the Avro field names), so that an event is serialised once for
both its row and its hash: members whose value is null are left out (at every depth), and
every instant is written with six fractional digits (``2026-03-03T10:00:00.000000Z``;
pydantic leaves the fraction out when it is zero). Which members are instants comes from
the event class's fields, never from what a value looks like: a display name that reads as
a date stays as written.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import Any, Union

from pydantic import BaseModel

from projections.db.rows import payload_of
from schemas.models import LifecycleEvent

Shape = dict[str, "Shape | None"]
"""The members of a record that need more than dropping nulls: an instant (None) or a
nested record (its own shape)."""

_WHOLE_SECOND = len("2026-03-03T10:00:00Z")
_WITH_FRACTION = len("2026-03-03T10:00:00.000000Z")


class CanonicalInstantError(ValueError):
    """An instant whose stored text is not pydantic's UTC form."""


def canonical_record(
    event: LifecycleEvent, payload: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The event record (Avro field names) without null members, instants as canonical
    text. ``payload``: the event's :func:`payload_of`, when the caller has it already."""
    stored = payload_of(event) if payload is None else payload
    return _canonical(stored, record_shape(type(event)))


def canonical_instant(text: str) -> str:
    """Pydantic's JSON text of a UTC instant with six fractional digits."""
    if len(text) == _WITH_FRACTION and text[10] == "T" and text[19] == "." and text[-1] == "Z":
        return text
    if len(text) == _WHOLE_SECOND and text[10] == "T" and text[-1] == "Z":
        return text[:-1] + ".000000Z"
    raise CanonicalInstantError(f"{text!r} is not a UTC instant in pydantic's JSON form")


@cache
def record_shape(model: type[BaseModel]) -> Shape:
    """The instants and nested records of ``model``'s fields, by serialised name."""
    shape: Shape = {}
    for name, field in model.model_fields.items():
        key = field.serialization_alias or field.alias or name
        for kind in _value_types(field.annotation):
            if _is_record(kind):
                shape[key] = record_shape(kind)
            elif kind is datetime:
                shape[key] = None
    return shape


def _is_record(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _value_types(annotation: Any) -> Iterator[Any]:
    """The types a field's value can have (Annotated and unions unwrapped, None left out).

    A collection of instants or records is refused: its items would need a shape too.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _value_types(typing.get_args(annotation)[0])
    elif origin is Union or origin is types.UnionType:
        for member in typing.get_args(annotation):
            yield from _value_types(member)
    elif origin is not None:
        for item in typing.get_args(annotation):
            for kind in _value_types(item):
                if kind is datetime or _is_record(kind):
                    raise TypeError(f"no canonical shape for a collection of {kind.__name__}")
    elif annotation is not type(None) and annotation is not Ellipsis:
        yield annotation


def _canonical(record: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    canonical: dict[str, Any] = {}
    for name, value in record.items():
        if value is None:
            continue
        if name in shape:
            inner = shape[name]
            canonical[name] = (
                canonical_instant(value) if inner is None else _canonical(value, inner)
            )
        elif isinstance(value, dict):
            canonical[name] = _canonical(value, {})
        else:
            canonical[name] = value
    return canonical
