from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from ticketing.db import make_engine, schema_is_current, upgrade_schema
from ticketing.models import Base


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_current(database_url: str) -> None:
    upgrade_schema(database_url)
    engine = make_engine(database_url)
    assert schema_is_current(engine)
    engine.dispose()


def test_an_empty_database_is_not_current(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/empty.sqlite3")
    assert not schema_is_current(engine)
    engine.dispose()
