"""Message records: one row per charged SMS, written in the transaction that charged it.

``(scope_account_id, message_id)`` is unique: the scope is the API client's account (the
calling key's), so a retried message — even two copies racing on two nodes — finds the
first one's row instead of charging again. ``charges`` is the JSON list of what each
level of the chain paid (account, plan, price, cost, currency, balance after).
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

_BigId = BigInteger().with_variant(Integer, "sqlite")

message_records = Table(
    "message_records",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("scope_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the request
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),  # the sender's
    Column("sender", String(64), nullable=False),
    Column("recipient", String(32), nullable=False),  # E.164 digits
    Column("mcc_mnc", String(7), nullable=True),
    Column("segments", Integer, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("cost", Amount, nullable=False),  # the first charged level's
    Column("currency", String(3), nullable=False),
    Column("balance_after", Amount, nullable=False),
    Column("charges", Text, nullable=False),  # JSON, one object per charged level
    Column("transaction_id", _BigId, ForeignKey("ledger_transactions.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("scope_account_id", "message_id", name="uq_message_records_scope_message"),
    CheckConstraint("segments >= 1", name="segments"),
    CheckConstraint("encoding IN ('gsm7','ucs2')", name="encoding"),
)
Index("ix_message_records_account", message_records.c.account_id, message_records.c.id)
