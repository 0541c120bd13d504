"""Migration 0028 on SQLite and PostgreSQL: the owner indexes of the paged lists become
``(owner, id)`` and match the schema; the downgrade restores the single-column ones."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import metadata

PAGED = {
    "ix_accounts_parent": ("accounts", "parent_id"),
    "ix_api_keys_account": ("api_keys", "account_id"),
    "ix_caller_identifiers_account": ("caller_identifiers", "account_id"),
    "ix_portal_users_account": ("portal_users", "account_id"),
    "ix_notify_subscriptions_account": ("notify_subscriptions", "account_id"),
}


def _columns(engine: object) -> dict[str, list[str]]:
    found = {}
    inspector = inspect(engine)
    for name, (table, _) in PAGED.items():
        (index,) = [i for i in inspector.get_indexes(table) if i["name"] == name]
        found[name] = list(index["column_names"])
    return found


def test_0028_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0028")
        assert _columns(engine) == {n: [owner, "id"] for n, (_, owner) in PAGED.items()}
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if any(name in repr(d) for name in PAGED)] == []
        migrate.downgrade(engine, "0026")
        assert _columns(engine) == {n: [owner] for n, (_, owner) in PAGED.items()}
        upgrade(engine, "0028")
        assert _columns(engine) == {n: [owner, "id"] for n, (_, owner) in PAGED.items()}
    finally:
        engine.dispose()
