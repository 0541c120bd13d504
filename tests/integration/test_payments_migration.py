"""Migration 0023: the payments table and the accounts' top-up limits; existing accounts
keep their rows with no limit; the migrated schema is what the code uses; the downgrade
removes both."""

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
LIMITS = {"topup_min", "topup_max", "topup_daily_max", "topup_monthly_max"}


def _before_0023() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0023")
    assert revision is not None
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("accounts")}


def test_payments_table_and_limits_come_and_go(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        before = _before_0023()
        upgrade(engine, before)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                    " credit_limit, block_balance, created_at, updated_at) VALUES (1, NULL,"
                    " '/1/', 0, 'operator', 'op', 'USD', 0, 0, :t, :t)"
                ).bindparams(bindparam("t", type_=UtcDateTime())),
                {"t": T0},
            )
        upgrade(engine)
        assert _columns(engine) >= LIMITS
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT name, topup_min, topup_max, topup_daily_max, topup_monthly_max"
                    " FROM accounts"
                )
            ).one()
            assert tuple(row) == ("op", None, None, None, None)
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if "payments" in str(d) or "topup" in str(d) or "auto_recharges" in str(d)
            ]
        assert differences == []

        migrate.downgrade(engine, before)  # FKs unenforced on SQLite meanwhile
        assert current_revision(engine) == before
        assert not LIMITS & _columns(engine)
        assert not {"payments", "auto_recharges"} & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert "payments" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
