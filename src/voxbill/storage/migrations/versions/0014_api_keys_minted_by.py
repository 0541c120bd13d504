"""auth: every API key records the key that minted it (``api_keys.created_by_key_id``)

Revision ID: 0014
Revises: 0013

Revoking a key now revokes every key it minted, and every key those minted (a stolen
key's backup keys die with it): the revocation follows ``created_by_key_id`` down. Keys
minted from the command line (``voxbill init``, ``voxbill apikey create``) have none.

Existing keys already name their minter in ``created_by`` (``key:12@account:3``, or
``system@account:3``): the column is filled from it, for minters that still exist.

Downgrade drops the column (``created_by`` still names the minter).
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_MINTER = re.compile(r"^key:(\d+)@")


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_key_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_api_keys_created_by_key_id_api_keys"),
            "api_keys",
            ["created_by_key_id"],
            ["id"],
        )
        batch_op.create_index("ix_api_keys_created_by_key_id", ["created_by_key_id"])
    bind = op.get_bind()
    ids = {row.id for row in bind.execute(sa.text("SELECT id FROM api_keys"))}
    minted = bind.execute(
        sa.text("SELECT id, created_by FROM api_keys WHERE created_by LIKE 'key:%'")
    )
    for key_id, created_by in minted.all():
        found = _MINTER.match(created_by)
        if found is not None and int(found.group(1)) in ids:
            bind.execute(
                sa.text("UPDATE api_keys SET created_by_key_id = :minter WHERE id = :id"),
                {"minter": int(found.group(1)), "id": key_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_created_by_key_id")
        batch_op.drop_constraint(op.f("fk_api_keys_created_by_key_id_api_keys"), type_="foreignkey")
        batch_op.drop_column("created_by_key_id")
