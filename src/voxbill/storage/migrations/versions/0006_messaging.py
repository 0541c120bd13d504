"""messaging: SMS records (owned by the SMS work)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_records",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("scope_account_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("mcc_mnc", sa.String(length=7), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("cost", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_after", Amount(), nullable=False),
        sa.Column("charges", sa.Text(), nullable=False),
        sa.Column("transaction_id", _BigId, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("segments >= 1", name=op.f("ck_message_records_segments")),
        sa.CheckConstraint("encoding IN ('gsm7','ucs2')", name=op.f("ck_message_records_encoding")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["accounts.id"], name=op.f("fk_message_records_operator_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["scope_account_id"],
            ["accounts.id"],
            name=op.f("fk_message_records_scope_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_message_records_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_message_records_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_records")),
        sa.UniqueConstraint(
            "scope_account_id", "message_id", name=op.f("uq_message_records_scope_message")
        ),
    )
    op.create_index(
        "ix_message_records_account", "message_records", ["account_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_message_records_account", table_name="message_records")
    op.drop_table("message_records")
