"""routing: vendors' SIP targets (owned by the SIP / least-cost routing work)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sip_targets",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=3), nullable=False),
        sa.Column("tech_prefix", sa.String(length=20), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("transport IN ('udp','tcp')", name=op.f("ck_sip_targets_transport")),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name=op.f("ck_sip_targets_port")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sip_targets_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_sip_targets")),
    )


def downgrade() -> None:
    op.drop_table("sip_targets")
