"""card batches: the Idempotency-Key that generated them

Revision ID: 0027
Revises: 0026

``card_batches`` gains the idempotency key a generation was asked with
(``docs/cards.md``, "Idempotent generation"): whose keys they are (``idempotency_scope``:
the calling account, as the money endpoints' keys), the key, and the digest of the
request (the same key with another request is refused). A unique index on (operator,
scope, key) makes two concurrent generations with one key insert one batch: the later
fails on it, rolls back whole and answers the first batch. Batches made without a key
leave the three columns NULL (NULLs are distinct: no constraint between them).

Downgrade drops the index and the columns (the keys are forgotten, the batches stay).
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_batches") as batch:
        batch.add_column(sa.Column("idempotency_scope", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_card_batches_idempotency",
        "card_batches",
        ["operator_id", "idempotency_scope", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_card_batches_idempotency", table_name="card_batches")
    with op.batch_alter_table("card_batches") as batch:
        batch.drop_column("idempotency_fingerprint")
        batch.drop_column("idempotency_key")
        batch.drop_column("idempotency_scope")
