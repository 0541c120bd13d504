"""identifiers: counters of calling-card PIN guesses, per card and per asker

Revision ID: 0013
Revises: 0012

Wrong PINs were not counted anywhere: a key or a NAS could try every PIN of a card. The
counters live in the database (nodes are stateless): a card's row is locked while an
attempt is counted, which makes the lockout threshold exact across nodes.
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_pin_counters",
        sa.Column("identifier_id", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["caller_identifiers.id"],
            name=op.f("fk_card_pin_counters_identifier_id_caller_identifiers"),
        ),
        sa.PrimaryKeyConstraint("identifier_id", name=op.f("pk_card_pin_counters")),
    )
    op.create_table(
        "pin_asker_counters",
        sa.Column("asker", sa.String(length=200), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("asker", name=op.f("pk_pin_asker_counters")),
    )


def downgrade() -> None:
    op.drop_table("pin_asker_counters")
    op.drop_table("card_pin_counters")
