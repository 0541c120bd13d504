"""charging: the vendor leg's tariff frozen at the call's start (sell levels keep theirs
in ``levels``)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vendor_tariff", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.drop_column("vendor_tariff")
