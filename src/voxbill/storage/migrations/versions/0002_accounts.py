"""accounts

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("billing", sa.String(length=16), server_default="prepaid", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit_limit", Amount(), nullable=False),
        sa.Column("alert_balance", Amount(), nullable=True),
        sa.Column("block_balance", Amount(), nullable=False),
        sa.Column("shared_balance", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("max_concurrent_calls", sa.Integer(), nullable=True),
        sa.Column("low_balance_concurrent_calls", sa.Integer(), nullable=True),
        sa.Column("max_call_cost", Amount(), nullable=True),
        sa.Column("max_call_duration", sa.Integer(), nullable=True),
        sa.Column("message_rate_limit", sa.Integer(), nullable=True),
        sa.Column("rate_plan", sa.String(length=100), nullable=True),
        sa.Column("sms_plan", sa.String(length=100), nullable=True),
        sa.Column("did_plan", sa.String(length=100), nullable=True),
        sa.Column("cutoff_mode", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("tax_profile", sa.String(length=64), nullable=True),
        sa.Column("contacts", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("billing IN ('prepaid','postpaid')", name=op.f("ck_accounts_billing")),
        sa.CheckConstraint(
            "cutoff_mode IN ('none','inbound','outbound','mutual')", name=op.f("ck_accounts_cutoff")
        ),
        sa.CheckConstraint(
            "kind IN ('operator','reseller','customer','user','card','vendor')",
            name=op.f("ck_accounts_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('active','blocked','suspended','closed')", name=op.f("ck_accounts_status")
        ),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_accounts_credit_limit")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["accounts.id"], name=op.f("fk_accounts_parent_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index("ix_accounts_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_accounts_path", ["path"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_path")
        batch_op.drop_index("ix_accounts_parent")

    op.drop_table("accounts")
