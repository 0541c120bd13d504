"""dashboard roll-up: per-minute rows of operators and resellers, and the pass's mark

Revision ID: 0029
Revises: 0028

``dashboard_minutes``: per account (every account of a CDR's path), kind (traffic, an
operator's margin per top-most payer, a seller's sell-leg margin), minute of the CDR's
start (UTC) and currency: how many CDRs and how much (docs/portal.md, "Dashboard and
charts"). ``dashboard_rollup_marks``: every CDR with an id up to ``cdr_id`` is in it.

Derived data: the upgrade leaves both empty (the dashboard reads the CDRs the pass has
not reached, so it is exact at once; ``voxbill dashboard rollup`` or ``voxbill serve``
fills them). Downgrade drops both.
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dashboard_minutes",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minute", UtcDateTime(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "kind", "minute", "currency", name=op.f("pk_dashboard_minutes")
        ),
    )
    op.create_table(
        "dashboard_rollup_marks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cdr_id", _BigId, nullable=False),
        sa.Column("rolled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dashboard_rollup_marks")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_rollup_marks")
    op.drop_table("dashboard_minutes")
