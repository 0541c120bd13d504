"""Migrations: an empty database upgrades to head, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, inspect

from voxbill.domain.errors import UnknownSchema
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from voxbill.storage.schema import metadata


def test_empty_database_upgrades_to_head(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert {"rate_plans", "rates", "rate_imports", "rate_changes"} <= tables
        upgrade(engine)  # a second upgrade is a no-op
        assert current_revision(engine) == head
    finally:
        engine.dispose()


def test_the_head_read_from_the_files_is_alembics() -> None:
    """``upgrade`` leaves Alembic unloaded for a database at this head: it must be
    Alembic's own (a new migration file that the plain reading cannot follow gives None,
    and Alembic decides, as before)."""
    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == script.get_current_head()
    assert len(list(script.walk_revisions())) > 1


def test_a_database_newer_than_the_code_is_refused_untouched(database_url: str) -> None:
    """A revision this code does not know (a newer voxbill migrated the database): a
    clear error naming it, and nothing upgraded or written."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
        tables = set(inspect(engine).get_table_names())
        with pytest.raises(UnknownSchema, match="9999_future") as refused:
            upgrade(engine)
        assert refused.value.code == "unknown_schema"
        assert current_revision(engine) == "9999_future"
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


def touched_table(diff: object) -> str | None:
    """The table an autogenerate difference is about."""
    op = diff[0] if isinstance(diff, list) else diff
    assert isinstance(op, tuple)
    for part in op[1:]:
        if isinstance(part, Table):
            return str(part.name)
        table = getattr(part, "table", None)
        if isinstance(table, Table):
            return str(table.name)
    # add_column, remove_column, modify_*: (op, schema, table name, ...)
    return op[2] if len(op) > 2 and isinstance(op[2], str) else None


def test_migrated_schema_matches_the_tables_the_code_uses(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        rating_tables = {"rate_plans", "rates", "rate_imports", "rate_changes"}
        assert [d for d in differences if touched_table(d) in rating_tables] == []
    finally:
        engine.dispose()
