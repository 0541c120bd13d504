"""portal sessions: the web portal's server-side sign-ins

Revision ID: 0024
Revises: 0023

``portal_sessions``: one row per sign-in (``docs/portal.md``): the sha256 of the random
session token (the cookie; never stored in the clear), the portal user (NULL for a
calling card signed in with its number and PIN), the account and role it acts as, the
CSRF secret of its forms, when it was created and last seen, and its absolute expiry.
``portal_users`` exists since 0003: nothing else changes.

Downgrade drops the table (everyone is signed out).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ROLES = "role IN ('admin','reseller','customer','user','support')"


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=254), nullable=False),
        sa.Column("csrf_secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(_ROLES, name=op.f("ck_portal_sessions_role")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["portal_users.id"], name=op.f("fk_portal_sessions_user_id_portal_users")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_portal_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sessions_token_hash")),
    )
    op.create_index("ix_portal_sessions_expires", "portal_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_expires", table_name="portal_sessions")
    op.drop_table("portal_sessions")
