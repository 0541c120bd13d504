"""Migration 0019 (SQLite and PostgreSQL): ``card_batches`` and ``cards`` appear on
upgrade, match the tables the code uses, and a downgrade removes them."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def test_card_tables_come_and_go(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"card_batches", "cards"} <= tables
        _downgrade(engine, "0016")
        tables = set(inspect(engine).get_table_names())
        assert not {"card_batches", "cards"} & tables
        upgrade(engine)
        assert {"card_batches", "cards"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
