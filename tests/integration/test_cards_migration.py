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


def test_batch_idempotency_columns_come_and_go(database_url: str) -> None:
    """Migration 0027: the key's columns and unique index appear; a downgrade to 0026
    removes them and keeps the batches."""
    engine = make_engine(database_url)
    columns = {"idempotency_scope", "idempotency_key", "idempotency_fingerprint"}
    try:
        upgrade(engine)
        found = {c["name"] for c in inspect(engine).get_columns("card_batches")}
        assert columns <= found
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("card_batches")}
        assert indexes["uq_card_batches_idempotency"]["unique"]
        _downgrade(engine, "0026")
        found = {c["name"] for c in inspect(engine).get_columns("card_batches")}
        assert not columns & found
        assert "card_batches" in inspect(engine).get_table_names()
        upgrade(engine)
        assert columns <= {c["name"] for c in inspect(engine).get_columns("card_batches")}
    finally:
        engine.dispose()
