"""fraud guard: spend caps, high-risk destinations, velocity alerts

Revision ID: 0018
Revises: 0017

``accounts``: ``hourly_spend_cap``, ``daily_spend_cap`` (NULL: none),
``high_risk_allowed`` (false) and ``high_risk_daily_cap`` (NULL: none).
``spend_counters``: what each capped account spent (charged + held) per period of its
timezone (hour, day, high-risk day). ``velocity_minutes``: calls and granted cost per
account per minute, with the minute's one alert flag. ``high_risk_prefixes``: the
destinations each operator marks high risk (docs/charging.md, "Fraud guard").

Downgrade drops them (the ledger keeps the money; caps and lists are lost).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hourly_spend_cap", Amount(), nullable=True))
        batch_op.add_column(sa.Column("daily_spend_cap", Amount(), nullable=True))
        batch_op.add_column(
            sa.Column("high_risk_allowed", sa.Boolean(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("high_risk_daily_cap", Amount(), nullable=True))
    op.create_table(
        "spend_counters",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_spend_counters_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "period", name=op.f("pk_spend_counters")),
    )
    op.create_table(
        "velocity_minutes",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("minute", UtcDateTime(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("spend", Amount(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_velocity_minutes_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "minute", name=op.f("pk_velocity_minutes")),
    )
    op.create_index("ix_velocity_minutes_minute", "velocity_minutes", ["minute"])
    op.create_table(
        "high_risk_prefixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["accounts.id"],
            name=op.f("fk_high_risk_prefixes_operator_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_high_risk_prefixes")),
        sa.UniqueConstraint("operator_id", "prefix", name="uq_high_risk_prefixes_operator_prefix"),
    )


def downgrade() -> None:
    op.drop_table("high_risk_prefixes")
    op.drop_index("ix_velocity_minutes_minute", table_name="velocity_minutes")
    op.drop_table("velocity_minutes")
    op.drop_table("spend_counters")
    # ALTER TABLE … DROP COLUMN on both (SQLite >= 3.35): a batch would copy the accounts
    # table, which every other table refers to
    for column in (
        "high_risk_daily_cap",
        "high_risk_allowed",
        "daily_spend_cap",
        "hourly_spend_cap",
    ):
        op.drop_column("accounts", column)
