"""Migration 0018: accounts of old get no caps and are not opted in to high-risk
destinations; the new tables match the schema; the downgrade drops it all."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, bindparam, inspect, text

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import metadata
from voxbill.storage.types import UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = {"spend_counters", "velocity_minutes", "high_risk_prefixes"}
COLUMNS = {"hourly_spend_cap", "daily_spend_cap", "high_risk_allowed", "high_risk_daily_cap"}


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def test_0018_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0016")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                    " credit_limit, block_balance, created_at, updated_at) VALUES"
                    " (1, NULL, '/1/', 0, 'operator', 'Acme', 'USD', 0, 0, :t, :t)"
                ).bindparams(bindparam("t", type_=UtcDateTime())),
                {"t": T0},
            )
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT hourly_spend_cap, daily_spend_cap, high_risk_allowed,"
                    " high_risk_daily_cap FROM accounts"
                )
            ).one()
            assert (row[0], row[1], bool(row[2]), row[3]) == (None, None, False, None)
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if any(name in str(d) for name in (*TABLES, *COLUMNS))
            ]
        assert differences == []
        _downgrade(engine, "0016")
        inspector = inspect(engine)
        assert not TABLES & set(inspector.get_table_names())
        assert not COLUMNS & {c["name"] for c in inspector.get_columns("accounts")}
    finally:
        engine.dispose()
