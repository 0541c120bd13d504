"""accounts: a vendor's partner (the same company's customer side)

Revision ID: 0017
Revises: 0016

``accounts.partner_id``: set only on a vendor account, naming the customer or reseller
account of the same operator that is the same company's inbound side (seed 003,
``docs/charging.md``, "Partners in both directions"). Unique: one vendor per partner.
Existing rows get NULL (no partner).

Vendors of old with cutoff mode ``inbound`` or ``mutual`` (which cut nothing a vendor
sends: a vendor sends us no traffic) get ``outbound``: the only mode that ever had an
effect on them (routing skipped them while their balance was spent).

Downgrade drops the column (the links are gone; the ledger keeps the money).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_accounts_partner_id_accounts"), "accounts", ["partner_id"], ["id"]
        )
        batch_op.create_unique_constraint(op.f("uq_accounts_partner_id"), ["partner_id"])
    op.execute(
        "UPDATE accounts SET cutoff_mode = 'outbound'"
        " WHERE kind = 'vendor' AND cutoff_mode IN ('inbound', 'mutual')"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_accounts_partner_id"), type_="unique")
        batch_op.drop_constraint(op.f("fk_accounts_partner_id_accounts"), type_="foreignkey")
        batch_op.drop_column("partner_id")
