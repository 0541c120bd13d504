"""Charging: open and settled call sessions, per-account open-call counters, CDRs.

``call_counters`` is the truth behind concurrency limits: a row per counted account,
locked and changed in the transaction that opens or settles a session, so several
nodes enforce one limit.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

charging_sessions = Table(
    "charging_sessions",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("session_id", String(200), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("caller", String(200), nullable=False),
    Column("callee", String(32), nullable=False),  # E.164 digits
    Column("interim", Boolean, nullable=False),
    Column("status", String(8), nullable=False),  # open | settled
    Column("started_at", UtcDateTime, nullable=False),  # the call's start, for rating
    Column("cap", Integer, nullable=False),  # longest call the chain allows
    Column("max_duration", Integer, nullable=False),
    Column("granted_seconds", Integer, nullable=False),  # total granted so far
    Column("used_seconds", Integer, nullable=False),  # last reported usage
    Column("request_number", Integer, nullable=True),
    # JSON: who pays, by which plan, and the tariff (rows) frozen at the start
    Column("levels", Text, nullable=False),
    Column("counted", Text, nullable=False),  # JSON: account ids whose counters it holds
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("settled_at", UtcDateTime, nullable=True),
    Column("cdr_id", _BigId, nullable=True),
    # the carrier the switch sent the call to, and its deck as read at the start
    Column("vendor_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("vendor_plan", String(100), nullable=True),
    Column("vendor_tariff", Text, nullable=True),  # JSON: the buy leg's rows, frozen
    # failed sweeper settles: how many, and the last error (the session waits, backed off)
    Column("sweep_attempts", Integer, nullable=False, server_default="0"),
    Column("sweep_error", Text, nullable=True),
    # when a usage report was last applied; NULL: none ever (how the sweeper settles it)
    Column("reported_at", UtcDateTime, nullable=True),
    CheckConstraint("status IN ('open','settled')", name="status"),
)
Index("ix_charging_sessions_open", charging_sessions.c.status, charging_sessions.c.expires_at)

call_counters = Table(
    "call_counters",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("open_calls", Integer, nullable=False),
    CheckConstraint("open_calls >= 0", name="non_negative"),
)

cdrs = Table(
    "cdrs",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("session_id", String(200), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("path", String(1000), nullable=False),  # the caller's path: subtree filters
    Column("caller", String(200), nullable=False),
    Column("callee", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration", Integer, nullable=False),
    Column("billed_seconds", Integer, nullable=False),
    Column("cost", Amount, nullable=False),  # what the caller's level paid
    Column("currency", String(3), nullable=False),
    Column("rate", Amount, nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("overrun", Boolean, nullable=False),  # usage beyond the grant (a late stop)
    Column("settled_by", String(8), nullable=False),  # stop | sweeper
    Column("created_at", UtcDateTime, nullable=False),
    Column("vendor_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("vendor_cost", Amount, nullable=True),  # the buy leg's cost, in vendor_currency
    Column("vendor_currency", String(3), nullable=True),
    # what the operator is paid (its top payer's cost) - the vendor cost, in the payer's
    # currency; null without a vendor, or across currencies with no exchange rate
    Column("margin", Amount, nullable=True),
    # the sweeper's: no_stop_last_usage | no_stop_no_usage_nothing | no_stop_no_usage_grant
    Column("settled_reason", String(32), nullable=True),
    # a stop after the sweeper corrected the CDR to the actual duration: when, and what
    # the sweeper had charged (the caller's level, the vendor); NULL: never corrected
    Column("corrected_at", UtcDateTime, nullable=True),
    Column("swept_duration", Integer, nullable=True),
    Column("swept_cost", Amount, nullable=True),
    Column("swept_vendor_cost", Amount, nullable=True),
)
Index("ix_cdrs_path", cdrs.c.path, cdrs.c.id)
Index("ix_cdrs_started", cdrs.c.started_at)

cdr_legs = Table(
    "cdr_legs",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("cdr_id", _BigId, ForeignKey("cdrs.id"), nullable=False),
    Column("level", Integer, nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("plan", String(100), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("rate", Amount, nullable=False),
    Column("billed_seconds", Integer, nullable=False),
    Column("cost", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("margin", Amount, nullable=True),  # its customer's cost - its own, same currency
    Column("side", String(4), nullable=False, server_default="sell"),  # sell | buy (vendor)
    Column("swept_cost", Amount, nullable=True),  # the sweeper's, when a late stop corrected it
    CheckConstraint("side IN ('sell','buy')", name="side"),
)
Index("ix_cdr_legs_cdr", cdr_legs.c.cdr_id, cdr_legs.c.level)


# The dashboard's per-minute roll-up (migration 0029, docs/portal.md "Dashboard"): per
# account (every account of a CDR's path), kind (``RollupKind``), minute of the CDR's
# start (UTC) and currency, how many CDRs and how much. Derived data: rebuilt from the
# CDRs by ``voxbill dashboard rollup --rebuild``.
dashboard_minutes = Table(
    "dashboard_minutes",
    metadata,
    Column("account_id", Integer, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("minute", UtcDateTime, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("calls", Integer, nullable=False),
    Column("amount", Amount, nullable=False),
)

# How far the roll-up has gone: every CDR with an id up to ``cdr_id`` is in it (and
# when a pass last moved it).
dashboard_rollup_marks = Table(
    "dashboard_rollup_marks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("cdr_id", _BigId, nullable=False),
    Column("rolled_at", UtcDateTime, nullable=True),
)
