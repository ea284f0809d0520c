"""The deferred indexes of a bulk load built at its end, several sessions at once on
PostgreSQL: every one built, a failing one reported once the others are done, and a later
attempt told which are still missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from projections.bulk import indexes
from projections.db.backends import DeferredIndex, backend_of
from projections.db.engine import create_engine_for

pytestmark = pytest.mark.integration

INDEXES = [
    DeferredIndex("ix_loaded_b", 'DROP INDEX "ix_loaded_b"',
                  'CREATE INDEX "ix_loaded_b" ON "loaded" (b)'),
    DeferredIndex("uq_loaded_a", 'ALTER TABLE "loaded" DROP CONSTRAINT "uq_loaded_a"',
                  'ALTER TABLE "loaded" ADD CONSTRAINT "uq_loaded_a" UNIQUE (a)'),
    DeferredIndex("ix_loaded_a_b", 'DROP INDEX "ix_loaded_a_b"',
                  'CREATE INDEX "ix_loaded_a_b" ON "loaded" (a, b)'),
    DeferredIndex("ix_loaded_c", 'DROP INDEX "ix_loaded_c"',
                  'CREATE INDEX "ix_loaded_c" ON "loaded" (c)'),
]


@pytest.fixture
def loaded(pg_url: str) -> Iterator[sa.Engine]:
    """A PostgreSQL table of 20,000 rows whose column ``a`` holds one value twice."""
    engine = create_engine_for(pg_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            'CREATE TABLE "loaded" (id bigserial PRIMARY KEY, a bigint, b text, c bigint)'
        )
        connection.exec_driver_sql(
            'INSERT INTO "loaded" (a, b, c) SELECT n, md5(n::text), mod(n, 97) '
            "FROM generate_series(1, 20000) AS n"
        )
    try:
        yield engine
    finally:
        engine.dispose()


def names(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return {index.name for index in
                backend_of(engine).deferrable_indexes(connection, "loaded")}


def test_every_index_is_built_from_several_sessions(loaded: sa.Engine) -> None:
    assert indexes.builders() >= 2
    with loaded.connect() as connection:
        indexes.build(loaded, connection, backend_of(loaded), INDEXES)
        assert indexes.missing(connection, backend_of(loaded), ["loaded"], INDEXES) == []
    assert names(loaded) == {index.name for index in INDEXES}


def test_a_failing_index_is_raised_after_the_others_and_is_the_one_missing(
    loaded: sa.Engine,
) -> None:
    with loaded.begin() as connection:
        connection.exec_driver_sql('INSERT INTO "loaded" (a, b, c) VALUES (7, \'again\', 7)')
    backend = backend_of(loaded)
    with loaded.connect() as connection:
        with pytest.raises(IntegrityError, match="uq_loaded_a"):
            indexes.build(loaded, connection, backend, INDEXES)
        with connection.begin():
            still = indexes.missing(connection, backend, ["loaded"], INDEXES)
            built = indexes.present(connection, backend, ["loaded"], INDEXES)
    assert [index.name for index in still] == ["uq_loaded_a"]
    assert sorted(index.name for index in built) == ["ix_loaded_a_b", "ix_loaded_b",
                                                     "ix_loaded_c"]
