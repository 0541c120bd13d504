"""Migration 0022 (SQLite and PostgreSQL): the notification tables appear, match the
tables the code uses, old outbox events count as fanned out (nothing old is sent after
the upgrade), and a downgrade removes the tables."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, inspect, text

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import current_revision, upgrade
from voxbill.storage.schema import metadata
from voxbill.storage.types import UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = {"notify_subscriptions", "notify_deliveries", "notify_attempts", "notify_templates"}
#: indexes a later migration changed (0028: ``(account_id, id)``, for paged lists)
CHANGED_LATER = ("ix_notify_subscriptions_account",)


def test_upgrade_marks_old_events_and_downgrade_drops_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0021")
        t0 = bindparam("t0", T0, type_=UtcDateTime())
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbox_events (topic, account_id, payload, created_at)"
                    " VALUES ('balance.alert_crossed_down', NULL, '{}', :t0)"
                ).bindparams(t0)
            )
        upgrade(engine, "0022")
        assert current_revision(engine) == "0022"
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            fanned = conn.execute(text("SELECT delivered_at FROM outbox_events")).scalar_one()
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert fanned is not None
        assert [
            d
            for d in differences
            if any(t in repr(d) for t in TABLES) and not any(i in repr(d) for i in CHANGED_LATER)
        ] == []
        migrate.downgrade(engine, "0021")  # FKs unenforced on SQLite meanwhile
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
