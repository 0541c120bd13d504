"""Migration 0024: ``portal_sessions`` matches the schema; the downgrade drops it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import metadata


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def test_0024_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0023")
        assert "portal_sessions" not in inspect(engine).get_table_names()
        upgrade(engine, "0024")
        assert "portal_sessions" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "portal_sessions" in repr(d)] == []
        _downgrade(engine, "0023")
        assert "portal_sessions" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
