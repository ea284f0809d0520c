"""Click parameter types for the domain: UTC instants with an offset, actors, worker counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from schemas.models import ActorKind


class Instant(click.ParamType):  # type: ignore[type-arg]
    """An ISO-8601 instant that carries an offset (Z or +hh:mm); naive instants are refused."""

    name = "INSTANT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(
                    f"{value!r} is not an ISO-8601 instant (e.g. 2026-03-03T10:00:00Z)", param, ctx
                )
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail(f"{value!r} has no UTC offset; add Z or +hh:mm", param, ctx)
        return parsed


class ActorParam(click.ParamType):  # type: ignore[type-arg]
    """KIND:ID, e.g. user:alice or system:expiry-sweeper."""

    name = "KIND:ID"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, str]:
        kind, separator, identity = str(value).partition(":")
        if not separator or not identity.strip():
            self.fail(
                f"{value!r} is not KIND:ID (e.g. user:alice, system:expiry-sweeper)", param, ctx
            )
        try:
            actor_kind = ActorKind(kind.upper())
        except ValueError:
            self.fail(f"actor kind {kind!r} is not one of user, system", param, ctx)
        return {"kind": actor_kind.value, "id": identity}


class WorkerCount(click.ParamType):  # type: ignore[type-arg]
    """``auto`` (None: the command chooses) or a number of processes from 1 to ``most``."""

    name = "auto|N"

    def __init__(self, most: int) -> None:
        self.most = most

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            count = value
        elif str(value).strip().lower() == "auto":
            return None
        else:
            try:
                count = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is neither auto nor a whole number", param, ctx)
        if count is not None and not 1 <= count <= self.most:
            self.fail(f"must be auto or a number from 1 to {self.most} (got {count})", param, ctx)
        return count


INSTANT = Instant()
ACTOR = ActorParam()
