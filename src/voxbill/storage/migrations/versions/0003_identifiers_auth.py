"""api keys, caller identifiers, portal users (owned by the accounts/API work)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ROLES = "role IN ('admin','reseller','customer','user','support')"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(_ROLES, name=op.f("ck_api_keys_role")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_index("ix_api_keys_account", "api_keys", ["account_id"])

    op.create_table(
        "caller_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("ip_version", sa.Integer(), nullable=True),
        sa.Column("net_start", sa.String(length=32), nullable=True),
        sa.Column("net_end", sa.String(length=32), nullable=True),
        sa.Column("prefix_len", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "type IN ('ani','sip_user','ip','card')", name=op.f("ck_caller_identifiers_type")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["accounts.id"],
            name=op.f("fk_caller_identifiers_operator_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_caller_identifiers_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_identifiers")),
        sa.UniqueConstraint(
            "operator_id", "type", "value", name=op.f("uq_caller_identifiers_value")
        ),
    )
    op.create_index("ix_caller_identifiers_account", "caller_identifiers", ["account_id"])
    op.create_index("ix_caller_identifiers_lookup", "caller_identifiers", ["type", "value"])
    op.create_index(
        "ix_caller_identifiers_any_network", "caller_identifiers", ["ip_version", "net_start"]
    )
    op.create_index(
        "ix_caller_identifiers_network",
        "caller_identifiers",
        ["operator_id", "ip_version", "net_start"],
    )

    op.create_table(
        "portal_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(_ROLES, name=op.f("ck_portal_users_role")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_portal_users_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_users")),
        sa.UniqueConstraint("email", name=op.f("uq_portal_users_email")),
    )
    op.create_index("ix_portal_users_account", "portal_users", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_users_account", table_name="portal_users")
    op.drop_table("portal_users")
    op.drop_index("ix_caller_identifiers_network", table_name="caller_identifiers")
    op.drop_index("ix_caller_identifiers_any_network", table_name="caller_identifiers")
    op.drop_index("ix_caller_identifiers_lookup", table_name="caller_identifiers")
    op.drop_index("ix_caller_identifiers_account", table_name="caller_identifiers")
    op.drop_table("caller_identifiers")
    op.drop_index("ix_api_keys_account", table_name="api_keys")
    op.drop_table("api_keys")
