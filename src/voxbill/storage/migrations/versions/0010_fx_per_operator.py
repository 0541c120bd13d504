"""fx: exchange rates per operator (``fx_rates.operator_id``), with ``updated_at``

Revision ID: 0010
Revises: 0009

Until now one table of rates served every operator of an installation, so one
operator's admin re-priced the others' conversions. Each rate now belongs to an
operator root. Existing rows were everybody's: they are copied to every operator
(same pair, rate, effective_from and created_at), so no operator's conversions change.
Rows of an installation without any operator cannot belong to anyone and are dropped
(no account, hence no book, could have been converted with them).

Downgrade keeps the rates of the first operator that has any (lowest id) as the global table and
drops the other operators' rates: a global table cannot hold two rates for one pair
and instant.
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OPERATORS = sa.text(
    "SELECT id FROM accounts WHERE parent_id IS NULL AND kind = 'operator' ORDER BY id"
)


def upgrade() -> None:
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", UtcDateTime(), nullable=True))
        batch_op.drop_constraint("uq_fx_rates_pair_from", type_="unique")
    bind = op.get_bind()
    for (operator_id,) in bind.execute(_OPERATORS).all():
        bind.execute(
            sa.text(
                "INSERT INTO fx_rates"
                " (operator_id, base, quote, rate, effective_from, created_at, updated_at)"
                " SELECT :operator_id, base, quote, rate, effective_from, created_at, created_at"
                " FROM fx_rates WHERE operator_id IS NULL"
            ),
            {"operator_id": operator_id},
        )
    bind.execute(sa.text("DELETE FROM fx_rates WHERE operator_id IS NULL"))
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.alter_column("operator_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("updated_at", existing_type=UtcDateTime(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_fx_rates_operator_id_accounts"), "accounts", ["operator_id"], ["id"]
        )
        batch_op.create_unique_constraint(
            "uq_fx_rates_operator_pair_from", ["operator_id", "base", "quote", "effective_from"]
        )


def downgrade() -> None:
    bind = op.get_bind()
    first = bind.execute(sa.text("SELECT min(operator_id) FROM fx_rates")).scalar()
    if first is not None:
        bind.execute(sa.text("DELETE FROM fx_rates WHERE operator_id <> :first"), {"first": first})
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_fx_rates_operator_pair_from", type_="unique")
        batch_op.drop_constraint(op.f("fk_fx_rates_operator_id_accounts"), type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("operator_id")
        batch_op.create_unique_constraint(
            "uq_fx_rates_pair_from", ["base", "quote", "effective_from"]
        )
