"""Calling-card batches and their cards (``domain/cards.py``).

A card is a ``card`` account (with its card identifier: number = serial, PIN hashed);
``cards`` adds what a batch card has beyond that. ``find_cards`` joins it to the card
identifier, so a call on a card reads its state and expiry in the same indexed read.
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
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import Amount, UtcDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

card_batches = Table(
    "card_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    # the customer or reseller the cards are children of
    Column("owner_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("face_value", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate_plan", String(100), nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("valid_days", Integer, nullable=True),
    Column("pin_length", Integer, nullable=False),
    Column("funding", String(16), nullable=False),  # operator | owner
    Column("first_sequence", _BigId, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    # the Idempotency-Key it was generated with (migration 0027): whose keys (the calling
    # account), the key, the request's digest; NULL when none was given
    Column("idempotency_scope", String(64), nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("idempotency_fingerprint", String(64), nullable=True),
    CheckConstraint("size > 0", name="size"),
    CheckConstraint("face_value > 0", name="face_value"),
    CheckConstraint("funding IN ('operator','owner')", name="funding"),
    Index("ix_card_batches_owner", "owner_id"),
    Index(
        "uq_card_batches_idempotency",
        "operator_id",
        "idempotency_scope",
        "idempotency_key",
        unique=True,
    ),
)

cards = Table(
    "cards",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("batch_id", Integer, ForeignKey("card_batches.id"), nullable=False),
    # the serial's sequence within the operator (the serial adds a Luhn check digit)
    Column("sequence", _BigId, nullable=False),
    Column("state", String(16), nullable=False),  # inactive | active
    Column("activated_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    # the ledger transaction that put the face value on the card: funded once, ever
    Column("funding_transaction_id", _BigId, nullable=True),
    CheckConstraint("state IN ('inactive','active')", name="state"),
    UniqueConstraint("operator_id", "sequence", name="uq_cards_operator_sequence"),
    Index("ix_cards_batch_sequence", "batch_id", "sequence"),
)
