"""Migration 0020 (SQLite and PostgreSQL): ``rate_plans.owner_account_id`` appears on
upgrade from 0016 with every plan kept as the operator's (NULL), matches the tables the
code uses, and a downgrade (one step) removes it, the plans kept."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, bindparam, inspect, text

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import current_revision, upgrade
from voxbill.storage.schema import metadata
from voxbill.storage.types import UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("rate_plans")}


def _plans(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT id, operator_id, name FROM rate_plans ORDER BY id"))
        ]


def test_upgrade_from_0016_and_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0016")
        at = bindparam("t0", type_=UtcDateTime())
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                    " credit_limit, block_balance, rate_plan, tax_profile, created_at,"
                    " updated_at) VALUES (1, NULL, '/1/', 0, 'operator', 'Acme', 'USD', 0, 0,"
                    " 'retail', NULL, :t0, :t0)"
                ).bindparams(at),
                {"t0": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO rate_plans (id, operator_id, name, currency, created_at,"
                    " updated_at) VALUES (7, 1, 'retail', 'USD', :t0, :t0)"
                ).bindparams(at),
                {"t0": T0},
            )
        before = _plans(engine)
        upgrade(engine, "0020")
        assert "owner_account_id" in _columns(engine)
        with engine.connect() as conn:
            owners = conn.execute(text("SELECT owner_account_id FROM rate_plans")).scalars()
            assert list(owners) == [None]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert [d for d in differences if "rate_plans" in repr(d)] == []
        assert _plans(engine) == before
        _downgrade(engine, "0020-1")  # one step: whichever revision 0020 follows
        assert current_revision(engine) not in (None, "0020")
        assert "owner_account_id" not in _columns(engine)
        assert _plans(engine) == before
        upgrade(engine)
        assert "owner_account_id" in _columns(engine)
    finally:
        engine.dispose()
