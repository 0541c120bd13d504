"""The account tree (operator → resellers → customers → users/cards, plus vendors)."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("accounts.id"), nullable=True),
    # materialized path of ancestor ids, e.g. "/1/4/9/": subtree = path LIKE '/1/4/%'
    Column("path", String(1000), nullable=False),
    Column("depth", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # operator reseller customer user card vendor
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("billing", String(16), nullable=False, server_default="prepaid"),
    Column("currency", String(3), nullable=False),
    Column("credit_limit", Amount, nullable=False),
    Column("alert_balance", Amount, nullable=True),
    Column("block_balance", Amount, nullable=False),
    Column("shared_balance", Boolean, nullable=False, server_default="0"),
    Column("max_concurrent_calls", Integer, nullable=True),
    Column("low_balance_concurrent_calls", Integer, nullable=True),
    Column("max_call_cost", Amount, nullable=True),
    Column("max_call_duration", Integer, nullable=True),
    # an operator root's own default for shared balances (seconds; docs/charging.md)
    Column("shared_balance_call_cap", Integer, nullable=True),
    Column("message_rate_limit", Integer, nullable=True),  # messages per second
    # the fraud guard (domain/fraud.py)
    Column("hourly_spend_cap", Amount, nullable=True),
    Column("daily_spend_cap", Amount, nullable=True),
    Column("high_risk_allowed", Boolean, nullable=False, server_default="0"),
    Column("high_risk_daily_cap", Amount, nullable=True),
    Column("rate_plan", String(100), nullable=True),  # voice out
    Column("sms_plan", String(100), nullable=True),
    Column("cutoff_mode", String(16), nullable=False, server_default="none"),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("tax_profile", String(64), nullable=True),
    # on a vendor only: the customer/reseller account that is the same company's inbound
    # side (a two-way partner; one vendor per partner)
    Column("partner_id", Integer, ForeignKey("accounts.id"), nullable=True, unique=True),
    # online top-up limits (docs/payments.md); NULL: no limit
    Column("topup_min", Amount, nullable=True),
    Column("topup_max", Amount, nullable=True),
    Column("topup_daily_max", Amount, nullable=True),
    Column("topup_monthly_max", Amount, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "kind IN ('operator','reseller','customer','user','card','vendor')", name="kind"
    ),
    CheckConstraint("status IN ('active','blocked','suspended','closed')", name="status"),
    CheckConstraint("billing IN ('prepaid','postpaid')", name="billing"),
    CheckConstraint("cutoff_mode IN ('none','inbound','outbound','mutual')", name="cutoff"),
    CheckConstraint("credit_limit >= 0", name="credit_limit"),
)
Index("ix_accounts_parent", accounts.c.parent_id, accounts.c.id)  # paged children (0028)
Index("ix_accounts_path", accounts.c.path)
