"""The ledger: books, append-only transactions and legs, holds, idempotency, outbox, FX.

``ledger_books`` carries the maintained balance and reserved amount of each account
balance (updated under a row lock in the transaction that appends the legs); the
operator's system books (cash, revenue, …) are not maintained — their balance is the
sum of their legs — so that no hot row serializes every charge.
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
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

ledger_books = Table(
    "ledger_books",
    metadata,
    Column("id", Integer, primary_key=True),
    # "account:17" for an account's balance, "revenue:EUR" for a system book
    Column("key", String(64), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("purpose", String(16), nullable=False),  # balance | cash | revenue | …
    Column("currency", String(3), nullable=False),
    Column("maintained", Boolean, nullable=False),
    Column("balance", Amount, nullable=False),
    Column("reserved", Amount, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("reserved >= 0", name="reserved_non_negative"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("reference", String(200), nullable=True),  # hold reference for charges
    Column("created_at", UtcDateTime, nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("transaction_id", _BigId, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("book_id", Integer, ForeignKey("ledger_books.id"), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_after", Amount, nullable=True),  # maintained books only
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount <> 0", name="non_zero"),
)
Index("ix_ledger_entries_book", ledger_entries.c.book_id, ledger_entries.c.id)
Index("ix_ledger_entries_transaction", ledger_entries.c.transaction_id)

holds = Table(
    "holds",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("reference", String(200), nullable=False),
    Column("level", Integer, nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("book_id", Integer, ForeignKey("ledger_books.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("status", String(8), nullable=False),
    Column("posted_amount", Amount, nullable=True),
    Column("transaction_id", _BigId, ForeignKey("ledger_transactions.id"), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("reference", "level", name="uq_holds_reference_level"),
    CheckConstraint("amount > 0", name="positive"),
    CheckConstraint("status IN ('open','posted','voided','expired')", name="status"),
)
Index("ix_holds_open_expiry", holds.c.status, holds.c.expires_at)
Index("ix_holds_book", holds.c.book_id, holds.c.status)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("scope", String(200), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("result", Text, nullable=False),  # JSON of the first response
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("topic", String(64), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("payload", Text, nullable=False),  # JSON
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
)
Index("ix_outbox_events_pending", outbox_events.c.delivered_at, outbox_events.c.id)

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", Integer, primary_key=True),
    # the operator root whose conversions use the rate: each operator sets its own
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", Amount, nullable=False),  # 1 base = rate quote
    Column("effective_from", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),  # a future rate replaced: when
    UniqueConstraint(
        "operator_id", "base", "quote", "effective_from", name="uq_fx_rates_operator_pair_from"
    ),
    CheckConstraint("rate > 0", name="positive"),
)
