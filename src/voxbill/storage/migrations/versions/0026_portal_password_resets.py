"""portal password resets: single-use links the portal emails

Revision ID: 0026
Revises: 0025

``portal_password_resets``: one row per "Forgot password?" that named a portal user
(``docs/portal.md``, "Password reset"): the sha256 of the random token in the emailed
link (never stored in the clear), the user, when it was made, until when it works, and
when it was used (a link works once).

Downgrade drops the table (outstanding links stop working).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_users.id"],
            name=op.f("fk_portal_password_resets_user_id_portal_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_password_resets_token_hash")),
    )
    op.create_index("ix_portal_password_resets_user", "portal_password_resets", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_password_resets_user", table_name="portal_password_resets")
    op.drop_table("portal_password_resets")
