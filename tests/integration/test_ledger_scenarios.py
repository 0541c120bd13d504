"""Worked accounting examples, on SQLite and PostgreSQL, with exact Decimal results."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import select, text

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import (
    InsufficientFunds,
    InvalidInput,
    InvalidMoney,
    NotFound,
)
from voxbill.storage.schema.ledger import outbox_events

OPERATOR = "admin:test"


@pytest.fixture
def ledger(container: Container):
    return container.ledger


@pytest.fixture
def db(container: Container):
    return container.db


def test_top_up_credits_the_balance_from_the_cash_book(ledger, db):
    alice = open_account(db)
    result = ledger.top_up(alice, D("10.00"), actor=OPERATOR, note="card payment")
    assert (result.kind, result.amount, result.balance_after) == ("topup", D("10.00"), D("10"))
    assert result.reason == "card payment"
    view = ledger.balance(alice)
    assert (view.balance, view.reserved, view.available, view.currency) == (
        D("10"),
        D("0"),
        D("10"),
        "EUR",
    )
    assert ledger.verify() == []


def test_reseller_funds_its_customer_from_its_own_balance(ledger, db):
    reseller = open_account(db, kind="reseller")
    customer = open_account(db, parent=reseller)
    ledger.top_up(reseller, D("100"), actor=OPERATOR)
    result = ledger.transfer(reseller, customer, D("30.50"), actor="reseller:1")
    assert (result.kind, result.account_id, result.amount) == ("transfer", reseller, D("-30.50"))
    assert result.balance_after == D("69.50")
    assert result.counterparty_account_id == customer
    assert result.counterparty_amount == result.counterparty_balance_after == D("30.50")
    assert ledger.balance(reseller).balance == D("69.50")
    with pytest.raises(InsufficientFunds):
        ledger.transfer(reseller, customer, D("69.51"), actor="reseller:1")
    assert ledger.balance(reseller).balance == D("69.50")
    assert ledger.verify() == []


def test_adjustments_up_and_down_respect_the_block_balance(ledger, db):
    alice = open_account(db, block_balance="1.00")
    ledger.top_up(alice, D("5"), actor=OPERATOR)
    assert ledger.adjust(alice, D("-1.50"), "billing error", actor=OPERATOR).balance_after == D(
        "3.50"
    )
    assert ledger.adjust(alice, D("0.25"), "goodwill", actor=OPERATOR).balance_after == D("3.75")
    with pytest.raises(InsufficientFunds):
        ledger.adjust(alice, D("-2.76"), "too much", actor=OPERATOR)
    assert ledger.adjust(alice, D("-2.75"), "to the floor", actor=OPERATOR).balance_after == D("1")
    forced = ledger.adjust(alice, D("-5"), "write-off", actor=OPERATOR, force=True)
    assert forced.balance_after == D("-4")
    assert [h.amount for h in ledger.history(alice)] == [
        D("-5"),
        D("-2.75"),
        D("0.25"),
        D("-1.50"),
        D("5"),
    ]
    assert ledger.verify() == []


def test_refund_needs_a_reason_and_a_positive_amount(ledger, db):
    alice = open_account(db)
    assert ledger.refund(alice, D("0.1234"), "dropped call", actor=OPERATOR).balance_after == D(
        "0.1234"
    )
    with pytest.raises(InvalidInput):
        ledger.refund(alice, D("1"), " ", actor=OPERATOR)
    with pytest.raises(InvalidMoney):
        ledger.refund(alice, D("-1"), "negative", actor=OPERATOR)
    with pytest.raises(InvalidMoney):
        ledger.top_up(alice, 1.5, actor=OPERATOR)  # a float never becomes money
    with pytest.raises(InvalidMoney):
        ledger.top_up(alice, D("0.000000001"), actor=OPERATOR)
    assert ledger.verify() == []


def test_shared_balance_is_the_ancestors_balance(ledger, db):
    company = open_account(db, alert_balance="5")
    desk = open_account(db, parent=company, kind="user", shared=True)
    phone = open_account(db, parent=desk, kind="user", shared=True)
    ledger.top_up(company, D("20"), actor=OPERATOR)
    ledger.adjust(phone, D("-2"), "manual call charge", actor=OPERATOR)
    view = ledger.balance(phone)
    assert (view.balance_account_id, view.balance, view.alert_balance) == (company, D("18"), D("5"))
    assert ledger.balance(company).balance == D("18")
    chain = ledger.balances([phone, desk, company])
    assert [(v.account_id, v.balance_account_id, v.available) for v in chain] == [
        (phone, company, D("18")),
        (desk, company, D("18")),
        (company, company, D("18")),
    ]
    with pytest.raises(InvalidInput):
        ledger.transfer(company, desk, D("1"), actor=OPERATOR)


def test_postpaid_credit_limit_lets_the_balance_go_negative(ledger, db):
    carrier = open_account(db, billing="postpaid", credit_limit="50")
    view = ledger.balance(carrier)
    assert (view.balance, view.available) == (D("0"), D("50"))
    assert ledger.adjust(carrier, D("-49.99"), "usage", actor=OPERATOR).balance_after == D("-49.99")
    with pytest.raises(InsufficientFunds):
        ledger.adjust(carrier, D("-0.02"), "usage", actor=OPERATOR)
    assert ledger.balance(carrier).available == D("0.01")


def test_cross_currency_transfer_goes_through_fx_books(ledger, db, container):
    operator = open_account(db, kind="operator", currency="USD")
    reseller = open_account(db, parent=operator, kind="reseller", currency="USD")
    customer = open_account(db, parent=reseller, currency="EUR")
    ledger.set_fx_rate(operator, "USD", "EUR", D("0.9"), datetime(2020, 1, 1, tzinfo=UTC))
    ledger.set_fx_rate(operator, "USD", "EUR", D("0.92345"), datetime(2024, 1, 1, tzinfo=UTC))
    in_2021 = datetime(2021, 6, 1, tzinfo=UTC)
    assert ledger.fx_rate("EUR", "USD", in_2021, operator_id=operator) == D(1) / D("0.9")
    ledger.top_up(reseller, D("100"), actor=OPERATOR)
    result = ledger.transfer(reseller, customer, D("10.01"), actor=OPERATOR)
    assert (result.amount, result.currency, result.balance_after) == (
        D("-10.01"),
        "USD",
        D("89.99"),
    )
    assert result.counterparty_amount == result.counterparty_balance_after == D("9.24")
    with pytest.raises(NotFound):
        ledger.transfer(
            reseller, open_account(db, parent=reseller, currency="GBP"), D("1"), actor=OPERATOR
        )
    assert ledger.verify() == []
    with db.transaction(readonly=True) as conn:
        sums = dict(
            conn.execute(
                text(
                    "SELECT b.key, sum(e.amount) FROM ledger_entries e "
                    "JOIN ledger_books b ON b.id = e.book_id WHERE b.purpose = 'fx' GROUP BY b.key"
                )
            ).all()
        )
    assert set(sums) == {"fx:USD", "fx:EUR"}


def test_history_pages_newest_first(ledger, db):
    alice = open_account(db)
    for cents in range(1, 8):
        ledger.top_up(alice, D(cents) / 100, actor=OPERATOR)
    first = ledger.history(alice, limit=3)
    assert [e.amount for e in first] == [D("0.07"), D("0.06"), D("0.05")]
    assert [e.balance_after for e in first] == [D("0.28"), D("0.21"), D("0.15")]
    second = ledger.history(alice, limit=3, before_id=first[-1].id)
    assert [e.amount for e in second] == [D("0.04"), D("0.03"), D("0.02")]
    assert ledger.history(open_account(db)) == []


def test_thresholds_are_written_once_per_crossing_and_rearmed(ledger, db):
    alice = open_account(db, alert_balance="5", block_balance="0")
    ledger.top_up(alice, D("10"), actor=OPERATOR)  # from 0 (blocked): restored, armed
    ledger.adjust(alice, D("-4"), "usage", actor=OPERATOR)  # 6: above the alert
    ledger.adjust(alice, D("-2"), "usage", actor=OPERATOR)  # 4: alert crossed down
    ledger.adjust(alice, D("-1"), "usage", actor=OPERATOR)  # 3: still below, no new alert
    ledger.adjust(alice, D("-3"), "usage", actor=OPERATOR)  # 0: block reached
    ledger.top_up(alice, D("2"), actor=OPERATOR)  # 2: restored
    ledger.top_up(alice, D("3"), actor=OPERATOR)  # 5: alert re-armed
    ledger.adjust(alice, D("-0.01"), "usage", actor=OPERATOR)  # 4.99: alert again
    with db.transaction(readonly=True) as conn:
        rows = conn.execute(select(outbox_events).order_by(outbox_events.c.id)).all()
    assert [r.topic for r in rows] == [
        "balance.alert_rearmed",
        "balance.restored",
        "balance.alert_crossed_down",
        "balance.block_reached",
        "balance.restored",
        "balance.alert_rearmed",
        "balance.alert_crossed_down",
    ]
    assert {r.account_id for r in rows} == {alice}
    assert json.loads(rows[3].payload)["balance"] == "0"


def test_the_journal_is_append_only(ledger, db):
    alice = open_account(db)
    ledger.top_up(alice, D("1"), actor=OPERATOR)
    for statement in ("UPDATE ledger_entries SET amount = 2", "DELETE FROM ledger_entries"):
        with pytest.raises(Exception, match="append-only"), db.transaction() as conn:
            conn.execute(text(statement))
    assert ledger.verify() == []


def test_an_unbalanced_transaction_is_refused_by_postgresql_and_caught_by_verify(ledger, db):
    alice = open_account(db)
    ledger.top_up(alice, D("1"), actor=OPERATOR)
    now = "now()" if db.dialect == "postgresql" else "CURRENT_TIMESTAMP"
    five = "5" if db.dialect == "postgresql" else "500000000"  # 10^-8 units on SQLite

    def append_one_sided_leg() -> None:
        with db.transaction() as conn:
            tid = conn.execute(
                text(
                    "INSERT INTO ledger_transactions (kind, actor, created_at) "
                    f"VALUES ('adjustment', 'x', {now}) RETURNING id"
                )
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO ledger_entries"
                    " (transaction_id, book_id, amount, currency, created_at)"
                    f" SELECT :t, id, {five}, 'EUR', {now} FROM ledger_books WHERE key = :k"
                ),
                {"t": tid, "k": f"account:{alice}"},
            )

    if db.dialect == "postgresql":
        with pytest.raises(Exception, match="unbalanced"):  # refused at COMMIT (deferred)
            append_one_sided_leg()
        assert ledger.verify() == []
        return
    append_one_sided_leg()  # SQLite has no deferred constraint: verify must catch it
    lines = sorted(str(d) for d in ledger.verify())
    assert len(lines) == 3
    assert lines[0].endswith(f"(account:{alice}): expected 6, found 1")
    assert lines[1] == "currency_total EUR: expected 0, found 5"
    assert lines[2].startswith("transaction ")
    assert lines[2].endswith(" in EUR: expected 0, found 5")
