"""The ledger's answers and records, pure: a stored response replays what was answered,
a rate stored either way round converts both ways, a stored hold reads without padding."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.fx import FxQuote
from voxbill.domain.holds import HoldRecord, hold_view
from voxbill.domain.ledger import LedgerTransaction, account_book_key, system_book_key

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_stored_transaction_replays_as_it_was_answered() -> None:
    answered = LedgerTransaction(
        id=7,
        kind="transfer",
        account_id=1,
        amount=Decimal("-10.50"),
        currency="EUR",
        balance_after=Decimal("89.50"),
        reason="gift",
        created_at=AT,
        counterparty_account_id=2,
        counterparty_amount=Decimal("11.37"),
        counterparty_balance_after=Decimal("11.37"),
    )
    replayed = LedgerTransaction.from_json(answered.to_json(), replayed=True)
    assert replayed.to_json() == answered.to_json()
    assert replayed.replayed
    assert not answered.replayed


def test_a_rate_stored_one_way_converts_both_ways() -> None:
    quote = FxQuote("EUR", Decimal("1.25"), AT)
    assert quote.of("EUR") == Decimal("1.25")
    assert quote.of("USD") == Decimal("0.8")


def test_a_stored_hold_reads_without_storage_padding() -> None:
    record = HoldRecord(
        id=1,
        reference="call-1",
        level=0,
        account_id=5,
        book_id=9,
        currency="EUR",
        amount=Decimal("1.50000000"),
        status="posted",
        posted_amount=Decimal("0.25000000"),
        transaction_id=3,
        expires_at=AT,
        created_at=AT,
        updated_at=AT,
        balance_account_id=4,
    )
    hold = hold_view(record, replayed=True)
    assert (hold.amount, hold.posted_amount) == (Decimal("1.5"), Decimal("0.25"))
    assert str(hold.amount) == "1.5"
    assert hold.replayed
    assert hold.balance_account_id == 4
    assert hold.transaction_id == 3


def test_book_keys() -> None:
    assert account_book_key(12) == "account:12"
    assert system_book_key("revenue", "EUR") == "revenue:EUR"
