"""Saving and deleting named searches (the text of a search query under a short name).

Names are 1 to 64 of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit, so a name is
safe in a URL, a shell and a file name. The query text is stored as given; whoever saves
it has parsed it first (the command line does).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine, delete

from projections.db.backends import backend_of
from projections.db.engine import write_transaction
from projections.db.tables import saved_searches

SAVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

NAME_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a saved search (None: it can)."""
    if SAVED_NAME.fullmatch(name) is None:
        return f"{name[:80]!r} is not a search name ({NAME_RULE})"
    return None


def save_search(engine: Engine, name: str, query: str, at: datetime) -> None:
    """Store ``query`` under ``name``, replacing a search of that name (ValueError for a bad
    name)."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    insert = backend_of(engine).insert(saved_searches).values(
        name=name, query=query, created_at=at, updated_at=at
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[saved_searches.c.name],
        set_={"query": insert.excluded.query, "updated_at": insert.excluded.updated_at},
    )
    with write_transaction(engine) as connection:
        connection.execute(upsert)


def delete_search(engine: Engine, name: str) -> bool:
    """Forget the search called ``name``; whether there was one."""
    with write_transaction(engine) as connection:
        result = connection.execute(delete(saved_searches).where(saved_searches.c.name == name))
    return bool(result.rowcount)
