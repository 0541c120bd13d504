"""paged lists: an account's rows indexed in id order

Revision ID: 0028
Revises: 0027

The portal and the API read an account's API keys, caller identifiers, portal users,
notification subscriptions and the accounts directly below a page at a time
(``WHERE account_id = ? AND id > ? ORDER BY id LIMIT n``, ``docs/portal.md``, "Lists").
Their single-column indexes on the owning account become ``(owner, id)``: one range of
the index is the page, whatever the size of the table. On PostgreSQL the owner's index
alone leaves the planner walking the primary key and filtering out every other owner's
row before the page (measured: the first page of an account whose 20,000 identifiers
came after 400,000 others took 102 ms, 0.05 ms with ``(account_id, id)``; a page of a
small owner 1.3 ms, 0.1 ms); SQLite's index already held the rowid, now said. The same
names are kept (each still serves every lookup by owner).

Downgrade restores the single-column indexes.
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

#: index name -> (table, owner column)
PAGED = {
    "ix_accounts_parent": ("accounts", "parent_id"),
    "ix_api_keys_account": ("api_keys", "account_id"),
    "ix_caller_identifiers_account": ("caller_identifiers", "account_id"),
    "ix_portal_users_account": ("portal_users", "account_id"),
    "ix_notify_subscriptions_account": ("notify_subscriptions", "account_id"),
}


def upgrade() -> None:
    for name, (table, owner) in PAGED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [owner, "id"])


def downgrade() -> None:
    for name, (table, owner) in PAGED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [owner])
