"""accounts: an operator's own default cap for calls on a shared balance

Revision ID: 0021
Revises: 0020

``accounts.shared_balance_call_cap`` (seconds, operator roots only): replaces the setting
``VOXBILL_SHARED_BALANCE_CALL_CAP_SECONDS`` for that operator's calls without interim
updates on a shared balance (``docs/charging.md``, "Shared balances"); NULL keeps the
setting, 0 turns the default off. Existing rows get NULL: nothing changes.

Downgrade drops the column (the operators fall back to the setting).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("shared_balance_call_cap", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("shared_balance_call_cap")
