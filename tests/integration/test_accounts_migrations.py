"""Migrations 0002/0003 leave exactly the tables the code declares, and come back down."""

from __future__ import annotations

from sqlalchemy import inspect

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import current_revision, upgrade
from voxbill.storage.schema import metadata

MINE = ("accounts", "api_keys", "caller_identifiers", "portal_users")


def _indexes(engine: object, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes(table)}  # type: ignore[arg-type]


def test_upgrade_matches_the_declared_schema_and_downgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(MINE) <= tables
        for name in MINE:
            declared = {c.name for c in metadata.tables[name].columns}
            actual = {c["name"] for c in inspect(engine).get_columns(name)}
            assert declared == actual, name
            declared_ix = {ix.name for ix in metadata.tables[name].indexes}
            assert declared_ix <= _indexes(engine, name), name
        migrate.downgrade(engine, "0002")  # FKs unenforced on SQLite meanwhile
        assert current_revision(engine) == "0002"
        assert "api_keys" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert "caller_identifiers" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
