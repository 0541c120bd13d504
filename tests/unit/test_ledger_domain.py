"""Pure ledger rules: balanced postings, floors, threshold crossings, exact splits."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain.errors import InvalidMoney, UnbalancedTransaction, ZeroAmountError
from voxbill.domain.ledger import Funds, Leg, Posting, ThresholdEvent, convert, crossings
from voxbill.domain.money import ratio_split

amounts = st.decimals(
    min_value=D("-1000000"), max_value=D("1000000"), places=8, allow_nan=False
).filter(lambda d: d != 0)


def test_a_posting_moves_money_between_two_books():
    posting = Posting.move("cash:EUR", "account:1", D("10.00"), "EUR")
    assert posting.totals() == {"EUR": D(0)}
    assert posting.net("account:1") == D("10.00")
    assert posting.net("cash:EUR") == D("-10.00")


def test_unbalanced_zero_and_float_legs_are_refused():
    with pytest.raises(UnbalancedTransaction):
        Posting.of([Leg("a", D("1"), "EUR"), Leg("b", D("-0.99"), "EUR")])
    with pytest.raises(UnbalancedTransaction):  # balanced in total, not per currency
        Posting.of([Leg("a", D("1"), "EUR"), Leg("b", D("-1"), "USD")])
    with pytest.raises(UnbalancedTransaction):
        Posting.of([Leg("a", D("1"), "EUR")])
    with pytest.raises(ZeroAmountError):
        Leg("a", D("0"), "EUR")
    with pytest.raises(InvalidMoney):
        Leg("a", 1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Leg("a", D("0.000000001"), "EUR")


@given(st.lists(amounts, min_size=1, max_size=12))
def test_legs_built_from_any_movements_always_sum_to_zero(moves):
    legs = []
    for i, amount in enumerate(moves):
        legs += [Leg(f"book{i}", amount, "EUR"), Leg("cash", -amount, "EUR")]
    posting = Posting.of(legs)
    assert posting.totals() == {"EUR": D(0)}
    assert posting.net("cash") == -sum(moves)


@given(amounts, st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=10))
def test_ratio_split_adds_back_up_exactly(amount, ratios):
    if sum(ratios) == 0:
        return
    parts = ratio_split(amount, ratios, 8)
    assert sum(parts) == amount
    assert len(parts) == len(ratios)
    unit = D("0.00000001")
    for part, ratio in zip(parts, ratios, strict=True):
        share = amount * ratio / sum(ratios)
        assert abs(part - share) < unit


@given(amounts, st.lists(st.integers(min_value=1, max_value=50), min_size=2, max_size=6))
def test_a_ratio_split_charge_is_a_balanced_posting(amount, ratios):
    parts = ratio_split(abs(amount), ratios, 8)
    legs = [Leg(f"level{i}", p, "EUR") for i, p in enumerate(parts) if p != 0]
    legs.append(Leg("revenue", -abs(amount), "EUR"))
    assert Posting.of(legs).totals() == {"EUR": D(0)}


def test_available_includes_credit_only_when_postpaid():
    prepaid = Funds(D("10"), D("3"), "prepaid", D("100"), D("1"))
    assert (prepaid.available, prepaid.headroom()) == (D("7"), D("6"))
    assert prepaid.allows(D("6"))
    assert not prepaid.allows(D("6.00000001"))
    postpaid = Funds(D("-20"), D("5"), "postpaid", D("50"), D("0"))
    assert (postpaid.available, postpaid.headroom()) == (D("25"), D("25"))


@given(
    st.decimals(min_value=-100, max_value=100, places=2),
    st.lists(st.decimals(min_value=-30, max_value=30, places=2), max_size=30),
)
def test_alerts_alternate_down_and_up_whatever_the_path(start, moves):
    funds = Funds(start, D(0), "prepaid", D(0), D(0), alert_balance=D("5"))
    alert_events = []
    for move in moves:
        after = funds.moved(move)
        alert_events += [
            e
            for e in crossings(funds, after)
            if e in (ThresholdEvent.ALERT_CROSSED_DOWN, ThresholdEvent.ALERT_REARMED)
        ]
        funds = after
    # a crossing down is always followed by a re-arm before the next crossing down
    for first, second in zip(alert_events, alert_events[1:], strict=False):
        assert first != second
    below = funds.spendable < D("5")
    started_below = start < D("5")
    if alert_events:
        assert (alert_events[-1] == ThresholdEvent.ALERT_CROSSED_DOWN) == below
    else:
        assert below == started_below


def test_block_reached_and_restored():
    funds = Funds(D("2"), D(0), "prepaid", D(0), D("1"))
    assert crossings(funds, funds.moved(D("-1"))) == [ThresholdEvent.BLOCK_REACHED]
    assert crossings(funds.moved(D("-1")), funds) == [ThresholdEvent.RESTORED]
    assert crossings(funds, funds.moved(D("-0.5"))) == []


def test_conversion_rounds_once_to_the_target_currency():
    assert convert(D("10.01"), D("0.92345"), "EUR") == D("9.24")
    assert convert(D("10"), D("151.555"), "JPY") == D("1516")
    assert convert(D("1"), D("0.3775"), "KWD") == D("0.378")
