"""Rate plans, their rows, the imports that wrote them and the price changes they made.

A plan belongs to an operator (``operator_id``, its root account): a name is unique within
the operator, and accounts name their plans within their own operator. ``operator_id`` is
NULL only for plans imported where no operator exists yet (rating without accounts); the
first operator created adopts them (see migration 0012).
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

rate_plans = Table(
    "rate_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("name", String(100), nullable=False),
    # the reseller that made and prices the plan (None: the operator's own plan)
    Column("owner_account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("decimals", Integer, nullable=False, server_default="4"),
    Column("rounding", String(16), nullable=False, server_default="half_up"),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("holidays", Text, nullable=False, server_default=""),  # ISO dates, comma separated
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("decimals >= 0 AND decimals <= 8", name="decimals_range"),
    UniqueConstraint("operator_id", "name", name="uq_rate_plans_operator_name"),
)
# a plan no operator owns yet keeps a unique name too (NULLs are distinct in a unique key)
Index(
    "uq_rate_plans_unowned_name",
    rate_plans.c.name,
    unique=True,
    sqlite_where=rate_plans.c.operator_id.is_(None),
    postgresql_where=rate_plans.c.operator_id.is_(None),
)
Index("ix_rate_plans_owner_account_id", rate_plans.c.owner_account_id)

rates = Table(
    "rates",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("plan_id", Integer, ForeignKey("rate_plans.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("destination", String(200), nullable=False, server_default=""),
    Column("rate", Amount, nullable=False),
    Column("connect_fee", Amount, nullable=False),
    Column("initial_rate", Amount, nullable=True),
    Column("initial_increment", Integer, nullable=False),
    Column("increment", Integer, nullable=False),
    Column("min_duration", Integer, nullable=False),
    Column("grace", Integer, nullable=False),
    Column("effective_from", UtcDateTime, nullable=True),
    Column("effective_to", UtcDateTime, nullable=True),
    Column("time_profile", String(200), nullable=True),
    CheckConstraint("rate >= 0 AND connect_fee >= 0", name="non_negative_price"),
    CheckConstraint("initial_increment >= 1 AND increment >= 1", name="positive_increments"),
)
Index("ix_rates_plan_prefix", rates.c.plan_id, rates.c.prefix)

rate_imports = Table(
    "rate_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("plan_id", Integer, ForeignKey("rate_plans.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(500), nullable=False),
    Column("mode", String(10), nullable=False),  # merge | replace
    Column("rows_read", Integer, nullable=False),
    Column("rows_imported", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
)

rate_changes = Table(
    "rate_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("import_id", Integer, ForeignKey("rate_imports.id", ondelete="CASCADE"), nullable=False),
    Column("plan_id", Integer, ForeignKey("rate_plans.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("time_profile", String(200), nullable=True),
    Column("destination", String(200), nullable=False, server_default=""),
    Column("change", String(10), nullable=False),  # new | increased | decreased | removed
    Column("old_rate", Amount, nullable=True),
    Column("new_rate", Amount, nullable=True),
    Column("effective_from", UtcDateTime, nullable=True),
)
Index("ix_rate_changes_plan", rate_changes.c.plan_id, rate_changes.c.import_id)
