"""CDR subtree search by path prefix on PostgreSQL; the dashboard's aggregates

Revision ID: 0025
Revises: 0024

A subtree's CDRs are ``path LIKE '/1/4/%'``. The PostgreSQL database's collation is not
"C" (e.g. ``C.UTF-8`` or ``en_US.UTF-8``), and a b-tree in such a collation cannot
answer a LIKE prefix, so ``ix_cdrs_path`` was never used for it: every CDR page scanned.
``ix_cdrs_path_c`` is the same key in the "C" collation, which the CDR queries name on
PostgreSQL (``path COLLATE "C" LIKE …``), so the prefix becomes an index range.
``ix_cdrs_started_path`` (started_at, path "C", including currency, cost and margin)
answers the dashboard's bounded windows (a day's CDRs of a subtree: calls, spend and the
operator's margin per minute) from the index alone (an index-only scan once vacuum has
marked the pages visible; half the time of reading the rows on 1M CDRs). Each CDR
insert now writes two more index entries on PostgreSQL.

PostgreSQL only: SQLite's ``ix_cdrs_path`` already serves its queries. Downgrade drops
both indexes.
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('CREATE INDEX ix_cdrs_path_c ON cdrs (path COLLATE "C", id)')
    op.execute(
        'CREATE INDEX ix_cdrs_started_path ON cdrs (started_at, path COLLATE "C") '
        "INCLUDE (currency, cost, margin)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_cdrs_started_path")
    op.execute("DROP INDEX ix_cdrs_path_c")
