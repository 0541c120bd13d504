"""Calling-card batches: serial numbers, PINs, face value, expiry and activation, pure.

A batch is a run of ``card`` accounts under one owner (a customer or reseller), printed
together and sold together. Each card's **serial** is also its card number (what the
holder types with the PIN): an operator-wide sequence, zero-padded, plus a Luhn check
digit (``python-stdnum``), so a mistyped digit is caught before any PIN is checked.

A card is ``inactive`` when generated: it carries no money and every call on it is
refused ``card_inactive`` (a stolen box of printed cards is worth nothing). Activating
it funds it with the batch's face value, once (the funding transaction id is kept);
deactivating it stops calls again and keeps its money. Its expiry is fixed at
activation: the batch's absolute ``expires_at`` and/or ``valid_days`` after activation,
whichever comes first. An expired card is refused ``card_expired``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from stdnum import luhn

from voxbill.domain.csv_safe import csv_document
from voxbill.domain.errors import CardExpired, CardInactive, InvalidInput
from voxbill.domain.money import currency_places

#: The most cards one batch may hold: a PIN's argon2id hash costs tens of ms, so 10,000
#: cards are minutes of CPU, and one transaction inserts them all or none.
MAX_BATCH_SIZE: Final = 10_000
#: The most one HTTP request may generate (seconds of a worker thread); the command line
#: (``voxbill cards generate``, with its progress bar) goes up to :data:`MAX_BATCH_SIZE`.
MAX_REST_BATCH_SIZE: Final = 1_000
#: Digits of a serial before its check digit (room for 10^11 cards per operator).
SERIAL_DIGITS: Final = 11
DEFAULT_PIN_LENGTH: Final = 10
MIN_PIN_LENGTH: Final = 8
MAX_PIN_LENGTH: Final = 12


class CardState(StrEnum):
    INACTIVE = "inactive"
    ACTIVE = "active"


class Funding(StrEnum):
    """Who pays a card's face value when it is activated."""

    #: the operator's ``cards`` book: what its sold cards are worth (an admin's batch)
    OPERATOR = "operator"
    #: the owner's own balance (a reseller or customer selling its own cards)
    OWNER = "owner"


def serial(sequence: int) -> str:
    """The card number of the ``sequence``-th card of an operator (1-based)."""
    if not 1 <= sequence < 10**SERIAL_DIGITS:
        raise InvalidInput("card serial numbers are exhausted for this operator")
    body = str(sequence).zfill(SERIAL_DIGITS)
    return body + luhn.calc_check_digit(body)


def sequence_of(serial_number: str) -> int:
    """The sequence of a serial, refusing a mistyped one (bad check digit)."""
    text = serial_number.strip().replace(" ", "").replace("-", "")
    if len(text) != SERIAL_DIGITS + 1 or not text.isdigit() or not luhn.is_valid(text):
        raise InvalidInput(f"{serial_number!r} is not a card serial number")
    return int(text[:-1])


def new_pin(length: int) -> str:
    """A random PIN of ``length`` digits (``secrets``: unpredictable)."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def check_pin_length(length: int) -> int:
    if not MIN_PIN_LENGTH <= length <= MAX_PIN_LENGTH:
        raise InvalidInput(f"pin_length must be {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} digits")
    return length


def check_size(size: int) -> int:
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise InvalidInput(f"a batch holds 1 to {MAX_BATCH_SIZE} cards")
    return size


@dataclass(frozen=True, slots=True)
class CardBatch:
    id: int
    operator_id: int
    owner_id: int
    name: str
    size: int
    face_value: Decimal
    currency: str
    rate_plan: str | None
    #: the last instant any card of the batch may be used (None: no absolute limit)
    expires_at: datetime | None
    #: days a card stays usable after its activation (None: no such limit)
    valid_days: int | None
    pin_length: int
    funding: Funding
    first_sequence: int
    created_at: datetime
    created_by: str

    @property
    def first_serial(self) -> str:
        return serial(self.first_sequence)

    @property
    def last_serial(self) -> str:
        return serial(self.first_sequence + self.size - 1)

    def expiry_from(self, activated_at: datetime) -> datetime | None:
        """A card's expiry when activated at ``activated_at``: the earlier limit."""
        limits = [self.expires_at] if self.expires_at is not None else []
        if self.valid_days is not None:
            limits.append(activated_at + timedelta(days=self.valid_days))
        return min(limits) if limits else None


@dataclass(frozen=True, slots=True)
class BatchKey:
    """The Idempotency-Key a batch was generated with: whose keys (``scope``: the
    calling account), the key, and the digest of the request it answered."""

    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class BatchUse:
    """What keeps a batch from being deleted: a card ever activated (or funded), money
    on a card's books (entries, holds, a balance), a call placed on one."""

    activated: bool
    money: bool
    calls: bool

    @property
    def reason(self) -> str | None:
        if self.money:
            return "money moved on its cards"
        if self.activated:
            return "some of its cards were activated"
        if self.calls:
            return "calls were placed on its cards"
        return None


@dataclass(frozen=True, slots=True)
class Card:
    account_id: int
    batch_id: int
    sequence: int
    state: CardState
    activated_at: datetime | None
    expires_at: datetime | None
    #: the ledger transaction that put the face value on it (None: never funded)
    funding_transaction_id: int | None

    @property
    def serial(self) -> str:
        return serial(self.sequence)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card about to be stored, with its PIN in clear (shown once) and hashed."""

    sequence: int
    pin: str
    pin_hash: str

    @property
    def serial(self) -> str:
        return serial(self.sequence)


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """A batch at a glance (``used``: an active card whose balance is below face value)."""

    inactive: int
    active: int
    used: int
    expired: int
    remaining_value: Decimal


def check_usable(state: str | None, expires_at: datetime | None, now: datetime) -> None:
    """A batch card may place calls only while active and not expired; a card without a
    batch (``state`` None: registered by hand as an identifier) always may. Called once
    its PIN was verified, so a guesser learns nothing of a card's state."""
    if state is None:
        return
    if state != CardState.ACTIVE:
        raise CardInactive("this card has not been activated")
    if expires_at is not None and now >= expires_at:
        raise CardExpired("this card has expired")


#: The printer's columns: serial (= card number), PIN, face value, currency, and the
#: batch's expiry: ``expiry`` (an absolute date, or empty) and ``valid_days`` (days
#: after activation, or empty).
PRINTER_COLUMNS: Final = ("serial", "pin", "face_value", "currency", "expiry", "valid_days")
#: The same without the PIN: what may be exported again, any time.
SERIAL_COLUMNS: Final = ("serial", "state", "face_value", "currency", "activated_at", "expires_at")


def face_text(batch: CardBatch) -> str:
    """The face value as printed: the currency's decimal places (``5.00``)."""
    places = currency_places(batch.currency)
    return str(batch.face_value.quantize(Decimal(1).scaleb(-places)))


def _expiry(batch: CardBatch) -> str | None:
    return None if batch.expires_at is None else batch.expires_at.date().isoformat()


def printer_csv(batch: CardBatch, new_cards: list[NewCard]) -> str:
    """The one document that ever holds the batch's PINs (they are stored hashed)."""
    return csv_document(
        PRINTER_COLUMNS,
        (
            (c.serial, c.pin, face_text(batch), batch.currency, _expiry(batch), batch.valid_days)
            for c in new_cards
        ),
    )


def serials_csv(batch: CardBatch, batch_cards: list[Card]) -> str:
    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return csv_document(
        SERIAL_COLUMNS,
        (
            (
                c.serial,
                c.state.value,
                face_text(batch),
                batch.currency,
                when(c.activated_at),
                when(c.expires_at),
            )
            for c in batch_cards
        ),
    )
