"""Migration 0015: the account settings stored and never used (``did_plan``,
``contacts``) leave the accounts table, its rows and what refers to them intact; the
downgrade brings both columns back, empty."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, bindparam, inspect, text

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import alembic_config, current_revision, upgrade
from voxbill.storage.schema import metadata
from voxbill.storage.types import UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DROPPED = {"did_plan", "contacts"}


def _before_0015() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0015")
    assert revision is not None
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


def _downgrade(engine: Engine, revision: str) -> None:
    # voxbill's own downgrade: on SQLite it rebuilds tables with foreign keys unenforced
    # (then checked), as a batch migration must when rows refer to the table
    migrate.downgrade(engine, revision)


def _old_accounts(engine: Engine) -> None:
    """An operator and a customer that set both settings, and a key of the customer's."""
    with engine.begin() as conn:
        for account_id, parent, path, kind in [
            (1, None, "/1/", "operator"),
            (2, 1, "/1/2/", "customer"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                    " credit_limit, block_balance, rate_plan, did_plan, tax_profile, contacts,"
                    " created_at, updated_at) VALUES (:id, :parent, :path, :depth, :kind,"
                    " :name, 'USD', 0, 0, NULL, 'numbers', 'eu-vat',"
                    ' \'{"email": "a@example.com"}\', :t, :t)'
                ).bindparams(bindparam("t", type_=UtcDateTime())),
                {
                    "id": account_id,
                    "parent": parent,
                    "path": path,
                    "depth": path.count("/") - 2,
                    "kind": kind,
                    "name": f"account {account_id}",
                    "t": T0,
                },
            )
        conn.execute(
            text(
                "INSERT INTO api_keys (id, account_id, role, prefix, secret_hash, created_by,"
                " created_at) VALUES (1, 2, 'customer', 'vbk_x', :hash, 'system', :t)"
            ).bindparams(bindparam("t", type_=UtcDateTime())),
            {"hash": "0" * 64, "t": T0},
        )


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("accounts")}


def test_unused_settings_are_dropped_and_the_downgrade_restores_them(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        before = _before_0015()
        upgrade(engine, before)
        _old_accounts(engine)
        upgrade(engine)
        assert not DROPPED & _columns(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, parent_id, path, name, tax_profile FROM accounts ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [
                (1, None, "/1/", "account 1", "eu-vat"),
                (2, 1, "/1/2/", "account 2", "eu-vat"),
            ]
            keys = conn.execute(text("SELECT id, account_id FROM api_keys")).all()
            assert [tuple(k) for k in keys] == [(1, 2)]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, metadata) if "accounts" in str(d)]
        assert differences == []

        _downgrade(engine, before)
        assert current_revision(engine) == before
        assert _columns(engine) >= DROPPED
        with engine.connect() as conn:
            restored = conn.execute(
                text("SELECT id, did_plan, contacts, tax_profile FROM accounts ORDER BY id")
            ).all()
        assert [tuple(r) for r in restored] == [
            (1, None, "{}", "eu-vat"),
            (2, None, "{}", "eu-vat"),
        ]

        upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(engine) == head
        assert not DROPPED & _columns(engine)
    finally:
        engine.dispose()
