"""charging: why the sweeper settled a call, and a late stop's correction of it

Revision ID: 0016
Revises: 0015

``charging_sessions.reported_at``: when a usage report was last applied (None: the
switch never sent one), so the sweeper tells "settled at its last usage" from "never
reported" (``docs/charging.md``, "Lost and late stops"). ``cdrs.settled_reason``: why
the sweeper charged what it did. A stop arriving after the sweeper corrects the CDR to
the actual duration; ``corrected_at`` says when, and ``swept_duration``, ``swept_cost``,
``swept_vendor_cost`` and each leg's ``swept_cost`` keep what the sweeper had charged.
Existing rows get NULL: a session of old counts as reported when it has usage (the
upgrade sets ``reported_at`` to its ``updated_at`` then); a CDR of old was never corrected.

Downgrade drops the columns (what they held is gone; the ledger keeps the money).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", UtcDateTime(), nullable=True))
    op.execute(
        "UPDATE charging_sessions SET reported_at = updated_at"
        " WHERE used_seconds > 0 OR request_number IS NOT NULL"
    )
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settled_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("corrected_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("swept_duration", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("swept_cost", Amount(), nullable=True))
        batch_op.add_column(sa.Column("swept_vendor_cost", Amount(), nullable=True))
    with op.batch_alter_table("cdr_legs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("swept_cost", Amount(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cdr_legs", schema=None) as batch_op:
        batch_op.drop_column("swept_cost")
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_column("swept_vendor_cost")
        batch_op.drop_column("swept_cost")
        batch_op.drop_column("swept_duration")
        batch_op.drop_column("corrected_at")
        batch_op.drop_column("settled_reason")
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
