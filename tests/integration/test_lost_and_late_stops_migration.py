"""Migration 0016 (SQLite and PostgreSQL): the sweeper's reason and a late stop's
correction columns appear on upgrade from 0015 with the rows intact (a session of old
that reported usage counts as reported), match the tables the code uses, and a
downgrade removes them."""

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
T1 = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
ADDED = {
    "charging_sessions": {"reported_at"},
    "cdrs": {"settled_reason", "corrected_at", "swept_duration", "swept_cost", "swept_vendor_cost"},
    "cdr_legs": {"swept_cost"},
}


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _old_sessions(engine: Engine) -> None:
    """Two sessions of a customer: one that reported 40 s, one that reported nothing."""
    timed = bindparam("t0", type_=UtcDateTime()), bindparam("t1", type_=UtcDateTime())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, parent_id, path, depth, kind, name, currency,"
                " credit_limit, block_balance, rate_plan, tax_profile, created_at, updated_at)"
                " VALUES (1, NULL, '/1/', 0, 'operator', 'Acme', 'USD', 0, 0, NULL, NULL,"
                " :t0, :t0)"
            ).bindparams(timed[0]),
            {"t0": T0},
        )
        for session_id, used in (("reported", 40), ("silent", 0)):
            conn.execute(
                text(
                    "INSERT INTO charging_sessions (session_id, account_id, caller, callee,"
                    " interim, status, started_at, cap, max_duration, granted_seconds,"
                    " used_seconds, levels, counted, expires_at, created_at, updated_at)"
                    " VALUES (:sid, 1, 'x', '44', true, 'open', :t0, 600, 600, 300, :used,"
                    " '[]', '[]', :t1, :t0, :t1)"
                ).bindparams(*timed),
                {"sid": session_id, "used": used, "t0": T0, "t1": T1},
            )


def test_upgrade_from_0015_and_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0015")
        _old_sessions(engine)
        upgrade(engine, "0016")
        for table, added in ADDED.items():
            assert _columns(engine, table) >= added
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT session_id, reported_at FROM charging_sessions ORDER BY session_id")
            ).all()
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        reported = {r[0]: r[1] for r in rows}
        assert reported["silent"] is None
        assert reported["reported"] is not None
        assert [d for d in differences if any(t in repr(d) for t in ADDED)] == []
        _downgrade(engine, "0015")
        assert current_revision(engine) == "0015"
        for table, added in ADDED.items():
            assert not added & _columns(engine, table)
        upgrade(engine)
        for table, added in ADDED.items():
            assert _columns(engine, table) >= added
    finally:
        engine.dispose()
