"""Migration 0014: every API key records the key that minted it, filled from
``created_by`` for existing keys; the downgrade drops it."""

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


def _before_0014() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0014")
    assert revision is not None
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


def _downgrade(engine: Engine, revision: str) -> None:
    # voxbill's own downgrade: on SQLite it rebuilds tables with foreign keys unenforced
    # (then checked), as a batch migration must when rows refer to the table
    migrate.downgrade(engine, revision)


def _old_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                " credit_limit, block_balance, created_at, updated_at)"
                " VALUES (1, NULL, '/1/', 0, 'operator', 'Acme', 'USD', 0, 0, :t, :t)"
            ).bindparams(bindparam("t", type_=UtcDateTime())),
            {"t": T0},
        )
        for key_id, created_by in [
            (1, "system@account:1"),
            (2, "key:1@account:1"),
            (3, "key:2@account:1"),
            (4, "key:99@account:1"),  # its minter is gone: no link
        ]:
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, account_id, role, prefix, secret_hash,"
                    " created_by, created_at) VALUES (:id, 1, 'admin', 'vbk_x', :hash, :by, :t)"
                ).bindparams(bindparam("t", type_=UtcDateTime())),
                {"id": key_id, "hash": f"{key_id:064d}", "by": created_by, "t": T0},
            )


def test_existing_keys_get_their_minter_and_the_downgrade_drops_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        before = _before_0014()
        upgrade(engine, before)
        _old_keys(engine)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, created_by_key_id FROM api_keys ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [(1, None), (2, 1), (3, 2), (4, None)]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, metadata) if "api_keys" in str(d)]
        assert differences == []
        _downgrade(engine, before)
        assert current_revision(engine) == before
        columns = {c["name"] for c in inspect(engine).get_columns("api_keys")}
        assert "created_by_key_id" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 4
        upgrade(engine)
    finally:
        engine.dispose()
