"""The fraud guard (``domain/fraud.py``): spend per account and period, calls per account
and minute (velocity), and each operator's high-risk destination prefixes."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

spend_counters = Table(
    "spend_counters",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    # "H2026-12-03T15:00:00+01:00" (hour), "D2026-12-03" (day), "R2026-12-03" (high-risk
    # day), in the account's timezone
    Column("period", String(40), primary_key=True),
    # charged + held by open calls that started in the period
    Column("amount", Amount, nullable=False),
)

velocity_minutes = Table(
    "velocity_minutes",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("minute", UtcDateTime, primary_key=True),
    Column("calls", Integer, nullable=False),
    Column("spend", Amount, nullable=False),  # the cost of the grants held
    # the minute's one fraud.velocity event is written (exactly once: this row's lock)
    Column("alerted", Boolean, nullable=False, server_default="0"),
)
Index("ix_velocity_minutes_minute", velocity_minutes.c.minute)

high_risk_prefixes = Table(
    "high_risk_prefixes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("prefix", String(16), nullable=False),  # E.164 digits
    Column("note", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("operator_id", "prefix", name="uq_high_risk_prefixes_operator_prefix"),
)
