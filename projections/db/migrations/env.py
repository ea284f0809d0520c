"""Alembic environment of the projection database.

Run programmatically by :mod:`projections.db.migrate`, which passes an open connection in
``config.attributes["connection"]``; or by the ``alembic`` command with
``-c projections/db/alembic.ini`` and the database URL in ``sqlalchemy.url`` or DATABASE_URL.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from projections.db.backends import backend_of
from projections.db.engine import create_engine_for
from projections.db.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=backend_of(connection).alembic_batch_mode,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def command_line_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url in the Alembic config or DATABASE_URL")
    return url


given = config.attributes.get("connection")
if given is not None:
    run_with(given)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    if context.is_offline_mode():
        run_offline(command_line_url())
    else:
        engine = create_engine_for(command_line_url())
        try:
            with engine.connect() as connection:
                run_with(connection)
                connection.commit()
        finally:
            engine.dispose()
