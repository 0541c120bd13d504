"""rating: a rate plan may belong to a reseller (``rate_plans.owner_account_id``)

Revision ID: 0020
Revises: 0019

A reseller makes its own plans (a marked-up copy of its buy plan, or an uploaded deck)
and assigns them below itself (``docs/rate-plans.md``, "Reseller plans"). The owner is
the reseller's account; NULL is the operator's own plan, as every existing plan stays.
Names stay unique per operator.

Downgrade drops the column: the plans stay, as the operator's.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rate_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_rate_plans_owner_account_id_accounts"),
            "accounts",
            ["owner_account_id"],
            ["id"],
        )
        batch_op.create_index("ix_rate_plans_owner_account_id", ["owner_account_id"])


def downgrade() -> None:
    with op.batch_alter_table("rate_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_plans_owner_account_id")
        batch_op.drop_constraint(
            op.f("fk_rate_plans_owner_account_id_accounts"), type_="foreignkey"
        )
        batch_op.drop_column("owner_account_id")
