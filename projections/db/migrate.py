"""Schema migrations of the projection database, run from the installed package.

Alembic is configured in code (the scripts' location is found next to this module), so
these work from any working directory and need no ``alembic.ini``. Each runs in one
transaction on the connection the URL describes, so a PostgreSQL ``search_path`` given in
the URL (``?options=-csearch_path%3D<schema>``) also decides where ``alembic_version`` lives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from projections.db.backends import backend_of
from projections.db.engine import create_engine_for, write_transaction

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_Operation = Callable[[Config], None]


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    log.info("migrating projection database up to %s", revision)
    _run(database_url, lambda config: command.upgrade(config, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"``: no tables at all)."""
    log.info("migrating projection database down to %s", revision)
    _run(database_url, lambda config: command.downgrade(config, revision))


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision this package knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def _run(database_url: str, operation: _Operation) -> None:
    """Run a migration command in one transaction that excludes concurrent migrations.

    SQLite: the transaction begins IMMEDIATE (one writer). PostgreSQL: it takes a
    transaction-level advisory lock first. A projector process that waited finds the schema
    already at head and does nothing.
    """
    engine = create_engine_for(database_url)
    try:
        with write_transaction(engine) as connection:
            backend_of(connection).lock_migrations(connection)
            config = _config()
            config.attributes["connection"] = connection
            operation(config)
    finally:
        engine.dispose()
