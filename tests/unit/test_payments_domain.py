"""The pure rules of online top-ups: amounts, limits, the account's day and month,
minor units, and Stripe's events translated into provider-neutral ones."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from voxbill.domain.accounts import Limits
from voxbill.domain.errors import InvalidInput, InvalidMoney
from voxbill.domain.payments import (
    PaymentEventKind,
    TopUpLimitExceeded,
    check_limits,
    checkout_amount,
    from_minor_units,
    minor_units,
    period_starts,
)
from voxbill.gateways.stripe_provider import translate
from voxbill.outcomes import http_status_for


def test_amounts_in_the_currencys_minor_units() -> None:
    assert checkout_amount(D("10.5"), "USD") == D("10.5")
    assert minor_units(D("10.5"), "USD") == 1050
    assert minor_units(D("500"), "JPY") == 500
    assert minor_units(D("1.005"), "KWD") == 1005
    assert from_minor_units(1050, "USD") == D("10.5")
    with pytest.raises(InvalidMoney):
        checkout_amount(D("10.5"), "JPY")
    with pytest.raises(InvalidInput):
        checkout_amount(D("0"), "USD")


@pytest.mark.parametrize(
    ("amount", "today", "month", "code"),
    [
        ("4.99", "0", "0", "topup_below_min"),
        ("100.01", "0", "0", "topup_above_max"),
        ("60", "100", "100", "topup_daily_max"),
        ("50", "0", "451", "topup_monthly_max"),
    ],
)
def test_each_limit_refuses_with_its_code(amount: str, today: str, month: str, code: str) -> None:
    limits = Limits(
        topup_min=D(5), topup_max=D(100), topup_daily_max=D(150), topup_monthly_max=D(500)
    )
    with pytest.raises(TopUpLimitExceeded) as refused:
        check_limits(limits, D(amount), "USD", D(today), D(month))
    assert refused.value.code == code
    assert http_status_for(refused.value) in (403, 422)
    check_limits(limits, D("50"), "USD", D("100"), D("450"))  # exactly at the limits


def test_limits_are_validated() -> None:
    Limits(topup_min=D(5), topup_max=D(5)).check()
    with pytest.raises(InvalidInput):
        Limits(topup_min=D(6), topup_max=D(5)).check()
    with pytest.raises(InvalidInput):
        Limits(topup_monthly_max=D(-1)).check()


def test_the_day_and_month_are_the_accounts() -> None:
    now = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # still 28 February in New York
    day, month = period_starts(now, "America/New_York")
    assert day == datetime(2026, 2, 28, 5, 0, tzinfo=UTC)
    assert month == datetime(2026, 2, 1, 5, 0, tzinfo=UTC)
    day, month = period_starts(now, "UTC")
    assert (day, month) == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def test_stripe_events_translate() -> None:
    completed = translate(
        {
            "id": "evt_1",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": "cs_1",
                    "client_reference_id": "pay_1",
                    "payment_status": "paid",
                    "payment_intent": {"id": "pi_1"},
                    "amount_total": 1050,
                    "currency": "eur",
                }
            },
        }
    )
    assert completed.kind is PaymentEventKind.SUCCEEDED
    assert (completed.payment_id, completed.reference, completed.intent) == (
        "pay_1",
        "cs_1",
        "pi_1",
    )
    assert (completed.amount, completed.currency) == (D("10.5"), "EUR")
    refunded = translate(
        {
            "id": "evt_2",
            "type": "charge.refunded",
            "data": {
                "object": {"payment_intent": "pi_1", "amount_refunded": 500, "currency": "eur"}
            },
        }
    )
    assert (refunded.kind, refunded.intent, refunded.amount) == (
        PaymentEventKind.REFUNDED,
        "pi_1",
        D(5),
    )
    other = translate({"id": "evt_3", "type": "invoice.paid", "data": {"object": {}}})
    assert other.kind is PaymentEventKind.IGNORED


def test_a_signed_event_of_the_wrong_shape_is_refused_not_a_crash() -> None:
    import stripe

    from voxbill.gateways.stripe_provider import StripeProvider

    provider = StripeProvider(None, "whsec_x")
    body = '{"id": "evt", "type": "charge.refunded", "data": {"object": ["not", "a", "dict"]}}'
    header = stripe.WebhookSignature.generate_signature_header(body, "whsec_x")
    with pytest.raises(InvalidInput):
        provider.parse_event(body.encode(), header)
