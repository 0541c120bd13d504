"""payments: online top-ups and the accounts' top-up limits

Revision ID: 0023
Revises: 0022

``payments``: one row per checkout (``docs/payments.md``): the public ``payment_id``,
the account, the provider and its references (checkout, unique per provider; payment
intent), amount and currency, status, the ledger top-up it made and what refunds and
disputes reversed, the caller's idempotency key. ``accounts.topup_min``, ``topup_max``,
``topup_daily_max``, ``topup_monthly_max``: the limits a parent sets on online top-ups;
existing rows get NULL (no limit): nothing changes. ``auto_recharges``: an
account's auto-recharge (threshold, amount, armed, the saved payment method).

Downgrade drops the table and the columns (the ledger keeps the money it moved).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIMITS = ("topup_min", "topup_max", "topup_daily_max", "topup_monthly_max")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for name in _LIMITS:
            batch.add_column(sa.Column(name, Amount(), nullable=True))
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("intent", sa.String(length=255), nullable=True),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("credit_transaction_id", _BigId, nullable=True),
        sa.Column("reversed_amount", Amount(), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("idempotency_scope", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_positive")),
        sa.CheckConstraint(
            "status IN ('pending','succeeded','failed','expired','partially_refunded',"
            "'refunded','disputed')",
            name=op.f("ck_payments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_payments_credit_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider", "reference", name=op.f("uq_payments_provider_reference")),
        sa.UniqueConstraint(
            "idempotency_scope", "idempotency_key", name=op.f("uq_payments_idempotency")
        ),
    )
    op.create_index(
        "ix_payments_account_created", "payments", ["account_id", "created_at"], unique=False
    )
    op.create_index("ix_payments_provider_intent", "payments", ["provider", "intent"], unique=False)
    op.create_table(
        "auto_recharges",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("below", Amount(), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("method", sa.String(length=255), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_auto_recharges_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_auto_recharges_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_auto_recharges")),
    )


def downgrade() -> None:
    op.drop_table("auto_recharges")
    op.drop_index("ix_payments_provider_intent", table_name="payments")
    op.drop_index("ix_payments_account_created", table_name="payments")
    op.drop_table("payments")
    with op.batch_alter_table("accounts") as batch:
        for name in reversed(_LIMITS):
            batch.drop_column(name)
