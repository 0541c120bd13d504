"""Migration 0013: the card PIN counters appear on upgrade from 0012 (the revision
before it), match the tables the code uses, and a downgrade removes them (SQLite and
PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import metadata

TABLES = {"card_pin_counters", "pin_asker_counters"}


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def test_upgrade_from_0012_and_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0012")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine, "0013")
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert [d for d in differences if any(table in repr(d) for table in TABLES)] == []
        _downgrade(engine, "0012")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
