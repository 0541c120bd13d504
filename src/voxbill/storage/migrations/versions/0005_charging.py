"""charging: sessions, open-call counters, CDRs and their legs (owned by the charging work)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "charging_sessions",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("callee", sa.String(length=32), nullable=False),
        sa.Column("interim", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("max_duration", sa.Integer(), nullable=False),
        sa.Column("granted_seconds", sa.Integer(), nullable=False),
        sa.Column("used_seconds", sa.Integer(), nullable=False),
        sa.Column("request_number", sa.Integer(), nullable=True),
        sa.Column("levels", sa.Text(), nullable=False),
        sa.Column("counted", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("settled_at", UtcDateTime(), nullable=True),
        sa.Column("cdr_id", _BigId, nullable=True),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("vendor_plan", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('open','settled')", name=op.f("ck_charging_sessions_status")
        ),
        _fk("charging_sessions", "account_id", "accounts"),
        _fk("charging_sessions", "vendor_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
        sa.UniqueConstraint("session_id", name=op.f("uq_charging_sessions_session_id")),
    )
    op.create_index("ix_charging_sessions_open", "charging_sessions", ["status", "expires_at"])
    op.create_table(
        "call_counters",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("open_calls", sa.Integer(), nullable=False),
        sa.CheckConstraint("open_calls >= 0", name=op.f("ck_call_counters_non_negative")),
        _fk("call_counters", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_call_counters")),
    )
    op.create_table(
        "cdrs",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("callee", sa.String(length=32), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("cost", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", Amount(), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("overrun", sa.Boolean(), nullable=False),
        sa.Column("settled_by", sa.String(length=8), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("vendor_cost", Amount(), nullable=True),
        sa.Column("vendor_currency", sa.String(length=3), nullable=True),
        sa.Column("margin", Amount(), nullable=True),
        _fk("cdrs", "account_id", "accounts"),
        _fk("cdrs", "vendor_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("session_id", name=op.f("uq_cdrs_session_id")),
    )
    op.create_index("ix_cdrs_path", "cdrs", ["path", "id"])
    op.create_index("ix_cdrs_started", "cdrs", ["started_at"])
    op.create_table(
        "cdr_legs",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("cdr_id", _BigId, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("rate", Amount(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("cost", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("margin", Amount(), nullable=True),
        sa.Column("side", sa.String(length=4), server_default="sell", nullable=False),
        sa.CheckConstraint("side IN ('sell','buy')", name=op.f("ck_cdr_legs_side")),
        _fk("cdr_legs", "cdr_id", "cdrs"),
        _fk("cdr_legs", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_legs")),
    )
    op.create_index("ix_cdr_legs_cdr", "cdr_legs", ["cdr_id", "level"])


def downgrade() -> None:
    op.drop_index("ix_cdr_legs_cdr", table_name="cdr_legs")
    op.drop_table("cdr_legs")
    op.drop_index("ix_cdrs_started", table_name="cdrs")
    op.drop_index("ix_cdrs_path", table_name="cdrs")
    op.drop_table("cdrs")
    op.drop_table("call_counters")
    op.drop_index("ix_charging_sessions_open", table_name="charging_sessions")
    op.drop_table("charging_sessions")
