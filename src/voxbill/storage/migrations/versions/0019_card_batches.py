"""cards: calling-card batches, and each batch card's serial, state and expiry

Revision ID: 0019
Revises: 0016

``card_batches``: a run of ``card`` accounts under one owner with a face value, currency,
optional rate plan, expiry (absolute and/or days after activation), PIN length and who
funds them. ``cards``: per card account, its batch, serial sequence (unique per
operator), state (``inactive`` until activated), activation and expiry instants and the
ledger transaction that funded it (once). ``docs/cards.md`` tells the whole story.

Downgrade drops both tables (the card accounts, their identifiers and their money stay;
the cards then behave as cards registered by hand).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("face_value", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate_plan", sa.String(length=100), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("pin_length", sa.Integer(), nullable=False),
        sa.Column("funding", sa.String(length=16), nullable=False),
        sa.Column("first_sequence", _BigId, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("size > 0", name=op.f("ck_card_batches_size")),
        sa.CheckConstraint("face_value > 0", name=op.f("ck_card_batches_face_value")),
        sa.CheckConstraint("funding IN ('operator','owner')", name=op.f("ck_card_batches_funding")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["accounts.id"], name=op.f("fk_card_batches_operator_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["accounts.id"], name=op.f("fk_card_batches_owner_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_batches")),
    )
    op.create_index("ix_card_batches_owner", "card_batches", ["owner_id"])
    op.create_table(
        "cards",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("sequence", _BigId, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("activated_at", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("funding_transaction_id", _BigId, nullable=True),
        sa.CheckConstraint("state IN ('inactive','active')", name=op.f("ck_cards_state")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cards_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["accounts.id"], name=op.f("fk_cards_operator_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["card_batches.id"], name=op.f("fk_cards_batch_id_card_batches")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_cards")),
        sa.UniqueConstraint("operator_id", "sequence", name="uq_cards_operator_sequence"),
    )
    op.create_index("ix_cards_batch_sequence", "cards", ["batch_id", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_cards_batch_sequence", table_name="cards")
    op.drop_table("cards")
    op.drop_index("ix_card_batches_owner", table_name="card_batches")
    op.drop_table("card_batches")
