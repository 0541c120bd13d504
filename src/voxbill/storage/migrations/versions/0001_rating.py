"""rating: plans, rates, imports, changes

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import Amount, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "rate_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("decimals", sa.Integer(), server_default="4", nullable=False),
        sa.Column("rounding", sa.String(length=16), server_default="half_up", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("holidays", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "decimals >= 0 AND decimals <= 8", name=op.f("ck_rate_plans_decimals_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_rate_plans_name")),
    )
    op.create_table(
        "rate_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rate_imports_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_imports")),
    )
    op.create_table(
        "rates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=200), server_default="", nullable=False),
        sa.Column("rate", Amount(), nullable=False),
        sa.Column("connect_fee", Amount(), nullable=False),
        sa.Column("initial_rate", Amount(), nullable=True),
        sa.Column("initial_increment", sa.Integer(), nullable=False),
        sa.Column("increment", sa.Integer(), nullable=False),
        sa.Column("min_duration", sa.Integer(), nullable=False),
        sa.Column("grace", sa.Integer(), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=True),
        sa.Column("effective_to", UtcDateTime(), nullable=True),
        sa.Column("time_profile", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "initial_increment >= 1 AND increment >= 1", name=op.f("ck_rates_positive_increments")
        ),
        sa.CheckConstraint(
            "rate >= 0 AND connect_fee >= 0", name=op.f("ck_rates_non_negative_price")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rates_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rates")),
    )
    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.create_index("ix_rates_plan_prefix", ["plan_id", "prefix"], unique=False)

    op.create_table(
        "rate_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("time_profile", sa.String(length=200), nullable=True),
        sa.Column("destination", sa.String(length=200), server_default="", nullable=False),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("old_rate", Amount(), nullable=True),
        sa.Column("new_rate", Amount(), nullable=True),
        sa.Column("effective_from", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["rate_imports.id"],
            name=op.f("fk_rate_changes_import_id_rate_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rate_changes_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_changes")),
    )
    with op.batch_alter_table("rate_changes", schema=None) as batch_op:
        batch_op.create_index("ix_rate_changes_plan", ["plan_id", "import_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rate_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_changes_plan")

    op.drop_table("rate_changes")
    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.drop_index("ix_rates_plan_prefix")

    op.drop_table("rates")
    op.drop_table("rate_imports")
    op.drop_table("rate_plans")
