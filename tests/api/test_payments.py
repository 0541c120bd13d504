"""Online top-ups (issue 13 items 7-8) over the real app, on SQLite and PostgreSQL:
Stripe Checkout through a fake HTTP client (no network), webhook events signed with the
library's own scheme, the top-up limits, tenancy, and the ledger staying sound."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from decimal import Decimal as D
from threading import Barrier
from typing import Any

import pytest
from api_tree import Tree

from support.stripe_fakes import (
    WEBHOOK_SECRET,
    FakeStripeHttp,
    charge_event,
    session_event,
    signed,
)
from voxbill.bootstrap import payment_providers
from voxbill.gateways.stripe_provider import StripeProvider
from voxbill.services.payments.recharge import AutoRecharges
from voxbill.services.payments.service import PaymentService

HOOK = "/api/v1/payments/stripe/webhook"


class Pay:
    """The tree with Stripe configured through a fake HTTP client."""

    def __init__(self, tree: Tree, clock: Callable[[], datetime] | None = None) -> None:
        self.tree = tree
        self.http = FakeStripeHttp()
        container = tree.container
        settings = container.settings.model_copy(
            update={"payments_success_url": "https://shop.example/done/{payment_id}"}
        )
        provider = StripeProvider("sk_test_x", WEBHOOK_SECRET, http_client=self.http)
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        container.payments = PaymentService(
            container.uow, container.ledger, settings, {"stripe": provider}, **extra
        )

    def checkout(self, key: str, account: int, amount: str, **headers: str) -> Any:
        return self.tree.client.post(
            f"/api/v1/accounts/{account}/payments/checkout",
            json={"amount": amount},
            headers={**self.tree.auth(key), **headers},
        )

    def paid(self, key: str, account: int, amount: str) -> dict[str, Any]:
        """A checkout, then Stripe's signed "completed" event for it."""
        started = self.checkout(key, account, amount)
        assert started.status_code == 201, started.text
        payment_id = started.json()["payment_id"]
        session = self.http.calls[-1]
        cents = int(session["form"]["line_items[0][price_data][unit_amount]"][0])
        reference = self.payment(payment_id)["reference"]
        event = session_event(
            "checkout.session.completed",
            payment_id=payment_id,
            session_id=reference,
            amount=cents,
            intent=f"pi_{payment_id}",
            event_id=f"evt_{payment_id}",
        )
        answer = self.deliver(event)
        assert answer.status_code == 200, answer.text
        assert answer.json()["action"] == "credited"
        return {"payment_id": payment_id, "intent": f"pi_{payment_id}", "cents": cents}

    def deliver(self, event: dict[str, Any], **kwargs: Any) -> Any:
        body, header = signed(event, **kwargs)
        return self.tree.client.post(
            HOOK,
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    def payment(self, payment_id: str) -> dict[str, Any]:
        found = self.tree.container.payments.get(payment_id)
        assert found is not None
        return {"status": found.status.value, "reference": found.reference, "p": found}

    def balance(self, account: int) -> D:
        return self.tree.container.ledger.balance(account).balance

    def outbox(self, topic: str) -> list[dict[str, Any]]:
        with self.tree.container.uow.transaction(readonly=True) as tx:
            events = tx.ledger.outbox()
        return [json.loads(e.payload) for e in events if e.topic == topic]


@pytest.fixture
def pay(tree: Tree) -> Pay:
    return Pay(tree)


def _limits(tree: Tree, account: int, key: str | None = None, **values: Any) -> Any:
    return tree.client.patch(
        f"/api/v1/accounts/{account}", json=values, headers=tree.auth(key or tree.admin)
    )


# -- checkout --------------------------------------------------------------------------


def test_a_checkout_opens_a_stripe_session_for_the_amount(pay: Pay, tree: Tree) -> None:
    answer = pay.checkout(tree.key_customer_a, tree.customer_a, "25.5")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["url"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    assert (body["status"], body["amount"], body["currency"]) == ("pending", "25.50", "USD")
    (call,) = pay.http.calls
    form = call["form"]
    assert call["url"].endswith("/v1/checkout/sessions")
    assert form["line_items[0][price_data][unit_amount]"] == ["2550"]
    assert form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["client_reference_id"] == [body["payment_id"]]
    assert form["metadata[payment_id]"] == [body["payment_id"]]
    assert form["success_url"] == [f"https://shop.example/done/{body['payment_id']}"]
    assert call["headers"]["Idempotency-Key"] == f"voxbill-checkout-{body['payment_id']}"
    listed = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/payments", headers=tree.auth(tree.key_customer_a)
    ).json()["items"]
    assert [(p["payment_id"], p["status"]) for p in listed] == [(body["payment_id"], "pending")]
    assert pay.balance(tree.customer_a) == D(0)  # nothing credited before Stripe says so


@pytest.mark.parametrize("amount", ["0", "-5", "10.001"])
def test_an_amount_that_cannot_be_paid_is_refused(pay: Pay, tree: Tree, amount: str) -> None:
    answer = pay.checkout(tree.key_customer_a, tree.customer_a, amount)
    assert answer.status_code == 422, answer.text
    assert pay.http.calls == []


def test_the_same_idempotency_key_replays_the_checkout(pay: Pay, tree: Tree) -> None:
    key = {"Idempotency-Key": "order-77"}
    first = pay.checkout(tree.key_customer_a, tree.customer_a, "10", **key)
    again = pay.checkout(tree.key_customer_a, tree.customer_a, "10.00", **key)
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(pay.http.calls) == 1
    other = pay.checkout(tree.key_customer_a, tree.customer_a, "11", **key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")


def test_a_provider_failure_is_502_and_frees_the_key(pay: Pay, tree: Tree) -> None:
    pay.http.fail_with = (400, "Invalid currency")
    key = {"Idempotency-Key": "k1"}
    refused = pay.checkout(tree.key_customer_a, tree.customer_a, "10", **key)
    assert (refused.status_code, refused.json()["code"]) == (502, "payment_provider_error")
    (failed,) = tree.container.payments.list(account_id=tree.customer_a)
    assert failed.status.value == "failed"
    pay.http.fail_with = None
    retried = pay.checkout(tree.key_customer_a, tree.customer_a, "10", **key)
    assert retried.status_code == 201
    assert retried.json()["payment_id"] != failed.id


def test_without_stripe_settings_checkouts_are_refused(tree: Tree) -> None:
    assert payment_providers(tree.container.settings) == {}
    answer = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/payments/checkout",
        json={"amount": "10"},
        headers=tree.auth(tree.key_customer_a),
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "payments_not_configured")
    body, header = signed({"id": "evt", "type": "checkout.session.completed"})
    hook = tree.client.post(HOOK, content=body, headers={"Stripe-Signature": header})
    assert (hook.status_code, hook.json()["code"]) == (403, "payments_not_configured")


def test_who_may_start_a_checkout_and_see_payments(pay: Pay, tree: Tree) -> None:
    # the account's own key, any ancestor's; the user's top-up lands on the balance it shares
    assert pay.checkout(tree.key_customer_a, tree.customer_a, "1").status_code == 201
    assert pay.checkout(tree.key_a, tree.customer_a, "1").status_code == 201
    assert pay.checkout(tree.admin, tree.customer_a, "1").status_code == 201
    assert pay.checkout(tree.key_user_a, tree.user_a, "1").status_code == 201
    # another subtree: not found; support: read-only; a user key on its parent: not found
    assert pay.checkout(tree.key_b, tree.customer_a, "1").status_code == 404
    assert pay.checkout(tree.key_user_a, tree.customer_a, "1").status_code == 404
    support = pay.checkout(tree.support_a, tree.customer_a, "1")
    assert (support.status_code, support.json()["code"]) == (403, "forbidden")
    # the operator root and vendors are not topped up online
    assert pay.checkout(tree.admin, tree.root, "1").status_code == 403
    assert len(pay.http.calls) == 4

    url = f"/api/v1/accounts/{tree.customer_a}/payments"
    assert len(tree.client.get(url, headers=tree.auth(tree.support_a)).json()["items"]) == 3
    assert tree.client.get(url, headers=tree.auth(tree.key_b)).status_code == 404
    assert tree.client.get(url, headers=tree.auth(tree.key_user_a)).status_code == 404
    assert tree.client.get(url).status_code == 401


# -- limits ----------------------------------------------------------------------------


def test_the_parent_sets_limits_and_a_refusal_names_the_limit(pay: Pay, tree: Tree) -> None:
    limits = {"topup_min": "10", "topup_max": "100", "topup_daily_max": "150"}
    set_ = _limits(tree, tree.customer_a, tree.key_a, **limits)
    assert set_.status_code == 200, set_.text
    shown = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(tree.key_customer_a)
    ).json()
    assert (shown["topup_min"], shown["topup_max"]) == ("10.00", "100.00")
    assert (shown["topup_daily_max"], shown["topup_monthly_max"]) == ("150.00", None)
    # the account cannot lift its own limits; nonsense is refused
    own = _limits(tree, tree.customer_a, tree.key_customer_a, topup_max="1000")
    assert own.status_code == 403
    assert _limits(tree, tree.customer_a, topup_min="200").status_code == 422  # above max
    assert _limits(tree, tree.customer_a, topup_daily_max="-1").status_code == 422

    def code(amount: str) -> tuple[int, str | None]:
        answer = pay.checkout(tree.key_customer_a, tree.customer_a, amount)
        return answer.status_code, answer.json().get("code")

    assert code("9.99") == (422, "topup_below_min")
    assert code("100.01") == (422, "topup_above_max")
    assert code("100")[0] == 201
    assert code("50.01") == (403, "topup_daily_max")  # the pending 100 counts
    assert code("50")[0] == 201
    assert len(pay.http.calls) == 2
    # null lifts a limit
    assert _limits(tree, tree.customer_a, topup_daily_max=None).status_code == 200
    assert code("60")[0] == 201


def test_daily_and_monthly_limits_count_in_the_accounts_days(tree: Tree) -> None:
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    pay = Pay(tree, clock=lambda: now[0])
    assert _limits(tree, tree.customer_a, timezone="America/New_York").status_code == 200
    limits = {"topup_daily_max": "100", "topup_monthly_max": "150"}
    assert _limits(tree, tree.customer_a, **limits).status_code == 200
    pay.paid(tree.key_customer_a, tree.customer_a, "100")  # 1 Dec, 07:00 in New York
    failed = pay.checkout(tree.key_customer_a, tree.customer_a, "1")
    assert failed.json()["code"] == "topup_daily_max"
    # 2 Dec 04:00 UTC is still 1 Dec in New York; 06:00 UTC is the next day there
    now[0] = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    assert pay.checkout(tree.key_customer_a, tree.customer_a, "1").json()["code"] == (
        "topup_daily_max"
    )
    now[0] = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    refused = pay.checkout(tree.key_customer_a, tree.customer_a, "50.01")
    assert refused.json()["code"] == "topup_monthly_max"
    assert pay.checkout(tree.key_customer_a, tree.customer_a, "50").status_code == 201
    # a pending checkout stops counting once it could no longer be paid (60 minutes)
    now[0] = datetime(2026, 12, 2, 7, 1, tzinfo=UTC)
    assert pay.checkout(tree.key_customer_a, tree.customer_a, "50").status_code == 201
    # a new month in New York
    now[0] = datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    assert pay.checkout(tree.key_customer_a, tree.customer_a, "100").status_code == 201


# -- webhooks --------------------------------------------------------------------------


def test_a_paid_checkout_is_credited_once_however_often_it_is_delivered(
    pay: Pay, tree: Tree
) -> None:
    started = pay.checkout(tree.key_customer_a, tree.customer_a, "25").json()
    payment_id = started["payment_id"]
    event = session_event(
        "checkout.session.completed",
        payment_id=payment_id,
        session_id="cs_test_1",
        amount=2500,
    )
    actions = [pay.deliver(event).json()["action"] for _ in range(10)]
    assert actions == ["credited"] + ["duplicate"] * 9
    assert pay.balance(tree.customer_a) == D("25")
    assert pay.payment(payment_id)["status"] == "succeeded"
    (received,) = pay.outbox("topup.received")
    assert (received["payment_id"], received["amount"], received["balance"]) == (
        payment_id,
        "25",
        "25",
    )
    assert received["account_id"] == tree.customer_a
    history = tree.container.ledger.history(tree.customer_a)
    assert [(e.kind, e.amount) for e in history] == [("topup", D("25"))]
    assert tree.container.ledger.verify() == []


def test_concurrent_deliveries_credit_once(pay: Pay, tree: Tree) -> None:
    payment_id = pay.checkout(tree.key_customer_a, tree.customer_a, "40").json()["payment_id"]
    event = session_event(
        "checkout.session.completed", payment_id=payment_id, session_id="cs_test_1", amount=4000
    )
    body, header = signed(event)
    service = tree.container.payments
    barrier = Barrier(8)

    def deliver(_: int) -> str:
        barrier.wait()
        return service.handle_webhook("stripe", body.encode(), header).action

    with ThreadPoolExecutor(8) as pool:
        actions = list(pool.map(deliver, range(8)))
    assert sorted(actions) == ["credited"] + ["duplicate"] * 7
    assert pay.balance(tree.customer_a) == D("40")
    assert len(pay.outbox("topup.received")) == 1
    assert tree.container.ledger.verify() == []


def test_bad_or_stale_signatures_are_400_and_credit_nothing(pay: Pay, tree: Tree) -> None:
    payment_id = pay.checkout(tree.key_customer_a, tree.customer_a, "25").json()["payment_id"]
    event = session_event(
        "checkout.session.completed", payment_id=payment_id, session_id="cs_test_1", amount=2500
    )
    forged = pay.deliver(event, secret="whsec_someone_else")
    stale = pay.deliver(event, at=int(time.time()) - 301)
    body, header = signed(event)
    tampered = tree.client.post(
        HOOK, content=body.replace("2500", "250000"), headers={"Stripe-Signature": header}
    )
    unsigned = tree.client.post(HOOK, content=body)
    for answer in (forged, stale, tampered, unsigned):
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert pay.balance(tree.customer_a) == D(0)
    assert pay.payment(payment_id)["status"] == "pending"
    assert pay.outbox("topup.received") == []


def test_refunds_and_disputes_reverse_the_credit(pay: Pay, tree: Tree) -> None:
    paid = pay.paid(tree.key_customer_a, tree.customer_a, "25")
    intent = paid["intent"]
    partial = charge_event("charge.refunded", intent=intent, amount=1000)
    assert pay.deliver(partial).json()["action"] == "reversed"
    assert pay.deliver(partial).json()["action"] == "duplicate"
    assert pay.balance(tree.customer_a) == D("15")
    assert pay.payment(paid["payment_id"])["status"] == "partially_refunded"
    full = charge_event("charge.refunded", intent=intent, amount=2500, event_id="evt_c2")
    assert pay.deliver(full).json()["action"] == "reversed"
    assert pay.deliver(full).json()["action"] == "duplicate"
    assert pay.balance(tree.customer_a) == D("0")
    found = pay.payment(paid["payment_id"])["p"]
    assert (found.status.value, found.reversed_amount) == ("refunded", D("25"))
    kinds = [(e.kind, e.amount) for e in tree.container.ledger.history(tree.customer_a)]
    assert kinds == [
        ("payment_reversal", D("-15")),
        ("payment_reversal", D("-10")),
        ("topup", D("25")),
    ]
    assert tree.container.ledger.verify() == []


def test_a_refund_ahead_of_its_credit_is_refused_until_the_credit(pay: Pay, tree: Tree) -> None:
    """Stripe retries a refused event: a refund (or dispute) whose payment's success is
    still on its way is 409, changes nothing, and reverses the credit once it is there."""
    payment_id = pay.checkout(tree.key_customer_a, tree.customer_a, "25").json()["payment_id"]
    intent = f"pi_{payment_id}"
    refund = charge_event("charge.refunded", intent=intent, amount=2500, event_id="evt_r1")
    dispute = charge_event("charge.dispute.created", intent=intent, amount=2500, event_id="e_d")
    for early in (refund, dispute):
        answer = pay.deliver(early)
        assert (answer.status_code, answer.json()["code"]) == (409, "payment_not_yet_credited")
    assert pay.balance(tree.customer_a) == D(0)
    reference = pay.payment(payment_id)["reference"]
    completed = session_event(
        "checkout.session.completed",
        payment_id=payment_id,
        session_id=reference,
        amount=2500,
        intent=intent,
        event_id="evt_late_success",
    )
    assert pay.deliver(completed).json()["action"] == "credited"
    assert pay.deliver(refund).json()["action"] == "reversed"  # Stripe's retry
    assert pay.balance(tree.customer_a) == D(0)
    assert tree.container.ledger.verify() == []


def test_a_dispute_after_spending_leaves_a_prepaid_balance_negative(pay: Pay, tree: Tree) -> None:
    paid = pay.paid(tree.key_customer_a, tree.customer_a, "30")
    spent = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/adjustments",
        json={"amount": "-20", "reason": "calls"},
        headers=tree.auth(tree.admin),
    )
    assert spent.status_code == 201, spent.text
    dispute = charge_event("charge.dispute.created", intent=paid["intent"], amount=3000)
    assert pay.deliver(dispute).json()["action"] == "reversed"
    assert pay.deliver(dispute).json()["action"] == "duplicate"
    # a refund event after the dispute takes nothing more
    refund = charge_event("charge.refunded", intent=paid["intent"], amount=3000)
    assert pay.deliver(refund).json()["action"] == "duplicate"
    assert pay.balance(tree.customer_a) == D("-20")
    assert pay.payment(paid["payment_id"])["status"] == "disputed"
    assert [e["event"] for e in pay.outbox("balance.block_reached")] == ["block_reached"]
    assert tree.container.ledger.verify() == []


def test_failed_and_expired_payments(pay: Pay, tree: Tree) -> None:
    first = pay.checkout(tree.key_customer_a, tree.customer_a, "10").json()["payment_id"]
    failed = session_event(
        "checkout.session.async_payment_failed",
        payment_id=first,
        session_id="cs_test_1",
        amount=1000,
        paid=False,
    )
    assert pay.deliver(failed).json()["action"] == "failed"
    assert pay.deliver(failed).json()["action"] == "duplicate"
    (notice,) = pay.outbox("payment.failed")
    assert (notice["payment_id"], notice["account_id"]) == (first, tree.customer_a)

    second = pay.checkout(tree.key_customer_a, tree.customer_a, "12").json()["payment_id"]
    intent_failed = {
        "id": "evt_pi",
        "type": "payment_intent.payment_failed",
        "data": {
            "object": {
                "id": "pi_x",
                "metadata": {"payment_id": second},
                "amount": 1200,
                "currency": "usd",
                "last_payment_error": {"message": "Your card was declined."},
            }
        },
    }
    assert pay.deliver(intent_failed).json()["action"] == "failed"
    assert pay.payment(second)["p"].failure == "Your card was declined."

    third = pay.checkout(tree.key_customer_a, tree.customer_a, "13").json()["payment_id"]
    expired = session_event(
        "checkout.session.expired", payment_id=third, session_id="cs_test_3", amount=1300
    )
    assert pay.deliver(expired).json()["action"] == "expired"
    statuses = {p.id: p.status.value for p in tree.container.payments.list()}
    assert statuses == {first: "failed", second: "failed", third: "expired"}
    assert pay.balance(tree.customer_a) == D(0)
    # an async "completed" (not paid yet), unknown types and unknown payments: 200, ignored
    unpaid = session_event(
        "checkout.session.completed",
        payment_id=third,
        session_id="cs_test_3",
        amount=1300,
        paid=False,
    )
    other = {"id": "evt_o", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    stranger = session_event(
        "checkout.session.completed",
        payment_id="pay_nobody",
        session_id="cs_x",
        amount=1,
        intent="pi_stranger",
    )
    for event in (unpaid, other, stranger):
        answer = pay.deliver(event)
        assert (answer.status_code, answer.json().get("action")) == (200, "ignored"), answer.text


def test_an_event_for_another_amount_is_not_credited(pay: Pay, tree: Tree) -> None:
    payment_id = pay.checkout(tree.key_customer_a, tree.customer_a, "25").json()["payment_id"]
    event = session_event(
        "checkout.session.completed", payment_id=payment_id, session_id="cs_test_1", amount=99
    )
    answer = pay.deliver(event)
    assert (answer.status_code, answer.json()["code"]) == (422, "payment_mismatch")
    assert pay.balance(tree.customer_a) == D(0)


def test_parallel_checkouts_cannot_pass_a_limit_together(pay: Pay, tree: Tree) -> None:
    assert _limits(tree, tree.customer_a, topup_daily_max="100").status_code == 200
    service = tree.container.payments
    principal = tree.container.auth.authenticate(tree.key_customer_a)
    barrier = Barrier(6)

    def start(_: int) -> str:
        barrier.wait()
        try:
            service.checkout(principal, tree.customer_a, D("30"))
        except Exception as exc:  # noqa: BLE001 - the refusal's code is the answer
            return str(getattr(exc, "code", exc))
        return "started"

    with ThreadPoolExecutor(6) as pool:
        answers = sorted(pool.map(start, range(6)))
    assert answers == ["started"] * 3 + ["topup_daily_max"] * 3
    assert len(pay.http.calls) == 3


def test_operators_list_payments_with_the_cli(pay: Pay, tree: Tree, database_url: str) -> None:
    paid = pay.paid(tree.key_customer_a, tree.customer_a, "25")
    pay.checkout(tree.key_a, tree.reseller_a, "5")
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    command = [sys.executable, "-c", "from voxbill.cli.main import main; main()"]
    listed = subprocess.run(
        [*command, "payments", "list", "--account", str(tree.customer_a), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    (item,) = json.loads(listed.stdout)
    assert (item["payment_id"], item["status"], item["amount"]) == (
        paid["payment_id"],
        "succeeded",
        "25",
    )
    table = subprocess.run(
        [*command, "payments", "list", "--status", "pending"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert table.returncode == 0, table.stderr
    assert "pending" in table.stdout
    assert paid["payment_id"] not in table.stdout
    recharged = subprocess.run(
        [*command, "payments", "recharge", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert recharged.returncode == 0, recharged.stderr
    assert json.loads(recharged.stdout) == []  # no account has auto-recharge


# -- auto-recharge -----------------------------------------------------------------------


def _intent_succeeded(payment_id: str, intent: str, cents: int, event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": intent,
                "metadata": {"payment_id": payment_id},
                "amount": cents,
                "amount_received": cents,
                "currency": "usd",
                "customer": "cus_saved",
                "payment_method": "pm_saved",
            }
        },
    }


def test_auto_recharge_charges_the_saved_card_once_per_crossing(pay: Pay, tree: Tree) -> None:
    url = f"/api/v1/accounts/{tree.customer_a}/payments/auto-recharge"
    own = tree.auth(tree.key_customer_a)
    set_up = tree.client.put(url, json={"below": "10", "amount": "50"}, headers=own)
    assert set_up.status_code == 200, set_up.text
    assert set_up.json() == {
        "account_id": tree.customer_a,
        "below": "10.00",
        "amount": "50.00",
        "armed": True,
        "card_saved": False,
    }
    other = tree.client.put(url, json={"below": "1", "amount": "5"}, headers=tree.auth(tree.key_b))
    assert other.status_code == 404
    assert tree.client.get(url, headers=tree.auth(tree.key_b)).status_code == 404
    support = tree.auth(tree.support_a)
    assert (
        tree.client.put(url, json={"below": "1", "amount": "5"}, headers=support).status_code == 403
    )
    assert tree.client.get(url, headers=support).status_code == 200
    recharges = AutoRecharges(tree.container.payments)

    def run() -> list[str]:
        return [o.action for o in recharges.run()]

    assert run() == ["no_saved_card"]  # under the threshold, but no card to charge yet
    # its reseller paying into it: that card is not asked to be kept
    assert pay.checkout(tree.key_a, tree.customer_a, "5").status_code == 201
    assert "payment_intent_data[setup_future_usage]" not in pay.http.calls[-1]["form"]
    paid = pay.paid(tree.key_customer_a, tree.customer_a, "25")
    form = pay.http.calls[-1]["form"]
    assert form["payment_intent_data[setup_future_usage]"] == ["off_session"]
    assert form["customer_creation"] == ["always"]
    saved = _intent_succeeded(paid["payment_id"], paid["intent"], 2500, "evt_pi_1")
    assert pay.deliver(saved).json()["action"] == "duplicate"  # credited already; card kept
    assert tree.client.get(url, headers=own).json()["card_saved"] is True
    assert run() == ["above"]

    def spend(amount: str) -> None:
        spent = tree.client.post(
            f"/api/v1/accounts/{tree.customer_a}/adjustments",
            json={"amount": f"-{amount}", "reason": "calls"},
            headers=tree.auth(tree.admin),
        )
        assert spent.status_code == 201, spent.text

    spend("20")  # 5 left: under 10
    assert run() == ["charged"]
    assert run() == ["waiting"]  # once per crossing
    charges = [c for c in pay.http.calls if c["url"].endswith("/v1/payment_intents")]
    (charge,) = charges
    assert charge["form"]["amount"] == ["5000"]
    assert charge["form"]["customer"] == ["cus_saved"]
    assert charge["form"]["payment_method"] == ["pm_saved"]
    assert charge["form"]["off_session"] == ["true"]
    pending = tree.container.payments.list(status="pending")
    (recharge,) = [p for p in pending if p.amount == Decimal("50")]  # not the reseller's 5
    assert charge["headers"]["Idempotency-Key"] == f"voxbill-recharge-{recharge.id}"
    credited = _intent_succeeded(recharge.id, str(recharge.reference), 5000, "evt_pi_2")
    assert pay.deliver(credited).json()["action"] == "credited"
    assert pay.deliver(credited).json()["action"] == "duplicate"
    assert pay.balance(tree.customer_a) == D("55")
    assert run() == ["rearmed"]
    assert run() == ["above"]

    spend("50")  # 5 left again: a new crossing, and the card is declined
    pay.http.decline = True
    assert run() == ["failed"]
    assert run() == ["waiting"]
    (declined,) = tree.container.payments.list(status="failed")
    assert declined.failure is not None
    assert "declined" in declined.failure
    assert [e["auto_recharge"] for e in pay.outbox("payment.failed")] == [True]
    assert len(pay.outbox("topup.received")) == 2
    assert tree.container.ledger.verify() == []

    assert tree.client.delete(url, headers=own).status_code == 204
    assert tree.client.get(url, headers=own).status_code == 404
    assert run() == []


def test_auto_recharge_respects_the_top_up_limits(pay: Pay, tree: Tree) -> None:
    url = f"/api/v1/accounts/{tree.customer_a}/payments/auto-recharge"
    assert (
        tree.client.put(
            url, json={"below": "10", "amount": "50"}, headers=tree.auth(tree.key_a)
        ).status_code
        == 200
    )
    with tree.container.uow.transaction() as tx:
        setting = tx.payments.auto_recharge(tree.customer_a)
        assert setting is not None
        tx.payments.save_auto_recharge(
            dataclasses.replace(setting, customer="cus_1", method="pm_1")
        )
    assert _limits(tree, tree.customer_a, topup_max="40").status_code == 200
    actions = [o.action for o in AutoRecharges(tree.container.payments).run()]
    assert actions == ["topup_above_max"]
    assert _limits(tree, tree.customer_a, status="blocked").status_code == 200
    actions = [o.action for o in AutoRecharges(tree.container.payments).run()]
    assert actions == ["account_blocked"]
    assert pay.http.calls == []


def test_concurrent_recharge_runs_charge_once(pay: Pay, tree: Tree) -> None:
    url = f"/api/v1/accounts/{tree.customer_a}/payments/auto-recharge"
    set_up = tree.client.put(
        url, json={"below": "10", "amount": "50"}, headers=tree.auth(tree.key_a)
    )
    assert set_up.status_code == 200
    with tree.container.uow.transaction() as tx:
        setting = tx.payments.auto_recharge(tree.customer_a)
        assert setting is not None
        tx.payments.save_auto_recharge(dataclasses.replace(setting, customer="c", method="m"))
    recharges = AutoRecharges(tree.container.payments)
    barrier = Barrier(4)

    def run(_: int) -> list[str]:
        barrier.wait()
        return [o.action for o in recharges.run()]

    with ThreadPoolExecutor(4) as pool:
        actions = sorted(a for found in pool.map(run, range(4)) for a in found)
    assert actions == ["charged", "waiting", "waiting", "waiting"]
    assert len([c for c in pay.http.calls if c["url"].endswith("/v1/payment_intents")]) == 1
