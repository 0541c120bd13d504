"""Online top-ups (``docs/payments.md``): one row per checkout, its provider's references
and what the ledger did with it."""

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
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),  # the public payment_id
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    # the provider's checkout (Stripe: Checkout Session id) and payment (PaymentIntent id)
    Column("reference", String(255), nullable=True),
    Column("intent", String(255), nullable=True),
    Column("amount", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("url", Text, nullable=True),
    Column("credit_transaction_id", _BigId, ForeignKey("ledger_transactions.id"), nullable=True),
    Column("reversed_amount", Amount, nullable=False),
    Column("failure", String(500), nullable=True),
    Column("idempotency_scope", String(200), nullable=True),
    Column("idempotency_key", String(255), nullable=True),
    Column("fingerprint", String(128), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("provider", "reference", name="uq_payments_provider_reference"),
    UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_payments_idempotency"),
    CheckConstraint("amount > 0", name="positive"),
    CheckConstraint(
        "status IN ('pending','succeeded','failed','expired','partially_refunded',"
        "'refunded','disputed')",
        name="status",
    ),
)
Index("ix_payments_account_created", payments.c.account_id, payments.c.created_at)
Index("ix_payments_provider_intent", payments.c.provider, payments.c.intent)

auto_recharges = Table(
    "auto_recharges",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("below", Amount, nullable=False),
    Column("amount", Amount, nullable=False),
    Column("armed", Boolean, nullable=False),
    Column("customer", String(255), nullable=True),
    Column("method", String(255), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="positive"),
)
