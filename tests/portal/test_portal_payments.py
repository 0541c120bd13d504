"""The portal's online top-up page (docs/portal.md, "Online top-up and payments") on
SQLite and PostgreSQL: Stripe Checkout through the payments tests' fake HTTP client (no
network), the browser sent to its page, the top-up limits, auto-recharge, tenancy
(404), support read-only (403), CSRF (403, nothing changed), and no payments
configured (no control, payments_not_configured)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_world import World, csrf_of, form_key_of, post_form, snapshot

from support.stripe_fakes import WEBHOOK_SECRET, FakeStripeHttp
from voxbill.gateways.stripe_provider import StripeProvider
from voxbill.services.payments.service import PaymentService


@pytest.fixture
def stripe(world: World) -> FakeStripeHttp:
    """Stripe configured on the world's container through a fake HTTP client."""
    http = FakeStripeHttp()
    container = world.container
    settings = container.settings.model_copy(
        update={"payments_success_url": "https://shop.example/done/{payment_id}"}
    )
    provider = StripeProvider("sk_test_x", WEBHOOK_SECRET, http_client=http)
    container.payments = PaymentService(
        container.uow, container.ledger, settings, {"stripe": provider}
    )
    return http


def _page(account: int) -> str:
    return f"/portal/accounts/{account}/payments"


def _checkout(client: TestClient, account: int, amount: str, key: str | None = None) -> Any:
    html = client.get(_page(account)).text
    data = {"csrf_token": csrf_of(html), "amount": amount, "form_key": key or form_key_of(html)}
    return client.post(f"/portal/accounts/{account}/payments/checkout", data=data)


def test_top_up_online_sends_the_browser_to_stripe_once(
    world: World, stripe: FakeStripeHttp
) -> None:
    client = world.signed_in("customer_a")
    page = client.get(_page(world.customer_a))
    assert page.status_code == 200
    assert "Top up online" in page.text
    key = form_key_of(page.text)
    started = _checkout(client, world.customer_a, "25.50", key)
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("https://checkout.stripe.com/")
    assert len(stripe.calls) == 1
    form = stripe.calls[0]["form"]
    assert form["line_items[0][price_data][unit_amount]"] == ["2550"]
    again = _checkout(client, world.customer_a, "25.50", key)  # the same form posted twice
    assert again.headers["location"] == location
    assert len(stripe.calls) == 1
    listed = client.get(_page(world.customer_a)).text
    assert "pending" in listed
    assert "25.50 USD" in listed
    assert "cs_test_" in listed  # the provider's id
    assert world.balance(world.customer_a) == Decimal("0")  # credited by Stripe's event only


def test_limits_set_by_the_parent_bound_the_checkout(world: World, stripe: FakeStripeHttp) -> None:
    parent = world.signed_in("reseller_a")
    limits_form = f'action="/portal/accounts/{world.customer_a}/payments/limits"'
    assert limits_form in parent.get(_page(world.customer_a)).text
    saved = post_form(
        parent,
        f"/portal/accounts/{world.customer_a}/payments/limits",
        {"topup_min": "10", "topup_max": "100", "topup_daily_max": "", "topup_monthly_max": ""},
        _page(world.customer_a),
    )
    assert saved.status_code == 303, saved.text
    with world.container.uow.transaction(readonly=True) as tx:
        account = tx.accounts.get(world.customer_a)
    assert account is not None
    assert (account.limits.topup_min, account.limits.topup_max) == (Decimal("10"), Decimal("100"))
    bad = post_form(
        parent,
        f"/portal/accounts/{world.customer_a}/payments/limits",
        {"topup_min": "50", "topup_max": "20"},
        _page(world.customer_a),
    )
    assert bad.status_code == 422
    assert "topup_min exceeds topup_max" in bad.text

    client = world.signed_in("customer_a")
    page = client.get(_page(world.customer_a)).text
    assert "/payments/limits" not in page  # an account does not set its own limits
    before = snapshot(world.container)
    for amount in ("5", "150"):
        refused = _checkout(client, world.customer_a, amount)
        assert refused.status_code == 422, refused.text
    assert _checkout(client, world.customer_a, "ten").status_code == 422
    assert snapshot(world.container) == before
    assert stripe.calls == []
    own = post_form(
        client,
        f"/portal/accounts/{world.customer_a}/payments/limits",
        {"topup_min": "1"},
        _page(world.customer_a),
    )
    assert own.status_code == 403


def test_auto_recharge_set_change_and_stop(world: World, stripe: FakeStripeHttp) -> None:
    client = world.signed_in("customer_a")
    assert "No auto-recharge." in client.get(_page(world.customer_a)).text
    path = f"/portal/accounts/{world.customer_a}/payments/auto-recharge"
    made = post_form(client, path, {"below": "5", "amount": "20"}, _page(world.customer_a))
    assert made.status_code == 303, made.text
    page = client.get(_page(world.customer_a)).text
    assert "20.00 USD when the balance is under 5.00 USD" in page
    assert "no card saved yet" in page
    bad = post_form(client, path, {"below": "-1", "amount": "20"}, _page(world.customer_a))
    assert bad.status_code == 422
    stopped = post_form(client, f"{path}/delete", {}, _page(world.customer_a))
    assert stopped.status_code == 303
    assert "No auto-recharge." in client.get(_page(world.customer_a)).text
    again = post_form(client, f"{path}/delete", {}, _page(world.customer_a))
    assert again.status_code == 404


def test_tenancy_support_and_csrf(world: World, stripe: FakeStripeHttp) -> None:
    before = snapshot(world.container)
    other = world.signed_in("reseller_b")
    assert other.get(_page(world.customer_a)).status_code == 404
    csrf = csrf_of(other.get("/portal/").text)
    for action, data in (
        ("checkout", {"amount": "20"}),
        ("auto-recharge", {"below": "5", "amount": "20"}),
        ("auto-recharge/delete", {}),
        ("limits", {"topup_min": "1"}),
    ):
        path = f"/portal/accounts/{world.customer_a}/payments/{action}"
        assert other.post(path, data={"csrf_token": csrf, **data}).status_code == 404, action

    support = world.signed_in("support_a")
    page = support.get(_page(world.customer_a))
    assert page.status_code == 200
    assert "data-write" not in page.text
    csrf = csrf_of(page.text)
    for action, data in (
        ("checkout", {"amount": "20"}),
        ("auto-recharge", {"below": "5", "amount": "20"}),
        ("limits", {"topup_min": "1"}),
    ):
        path = f"/portal/accounts/{world.customer_a}/payments/{action}"
        assert support.post(path, data={"csrf_token": csrf, **data}).status_code == 403, action

    owner = world.signed_in("customer_a")
    for token in ("forged", None):
        data = {"amount": "20"} | ({"csrf_token": token} if token else {})
        path = f"/portal/accounts/{world.customer_a}/payments/checkout"
        assert owner.post(path, data=data).status_code == 403
    admin = world.signed_in("admin")
    root_page = admin.get(_page(world.root)).text
    assert "Top up online" not in root_page  # an operator root is not topped up online
    assert snapshot(world.container) == before
    assert stripe.calls == []


def test_without_payments_configured_there_is_no_control(world: World) -> None:
    client = world.signed_in("customer_a")
    page = client.get(_page(world.customer_a))
    assert page.status_code == 200
    assert "Top up online" not in page.text
    before = snapshot(world.container)
    refused = post_form(
        client,
        f"/portal/accounts/{world.customer_a}/payments/checkout",
        {"amount": "20"},
        _page(world.customer_a),
    )
    assert refused.status_code == 403  # payments_not_configured
    assert "payments_not_configured" in refused.text
    assert snapshot(world.container) == before
