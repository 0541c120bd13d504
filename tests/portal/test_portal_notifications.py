"""The portal's alerts pages (docs/portal.md, "Alerts and notifications") on SQLite and
PostgreSQL: subscriptions as the API makes them (validation, webhook SSRF refusals),
deliveries with dead letters and their attempts, templates (edit, invalid_template,
reset), tenancy (404), support read-only (403), CSRF (403, nothing changed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from portal_world import World, csrf_of, post_form, snapshot

from support.notify_world import FakeClock, http_receiver, rewire
from voxbill.domain.access import Principal, Role


def _alerts(world: World, account: int) -> str:
    return f"/portal/accounts/{account}/notifications"


def _subscribe(client: TestClient, world: World, account: int, **fields: object) -> Any:
    data: dict[str, Any] = {
        "channel": "email",
        "target": "ops@example.com",
        "events": ["balance.low"],
    }
    data |= fields
    page = client.get(_alerts(world, account))
    return client.post(
        f"/portal/accounts/{account}/subscriptions",
        data={"csrf_token": csrf_of(page.text), **data},
    )


def _subscriptions(world: World, account: int) -> list[tuple[str, str]]:
    with world.container.uow.transaction(readonly=True) as tx:
        return [(s.channel.value, s.target) for s in tx.notify.subscriptions(account)]


def test_a_customer_manages_its_subscriptions(world: World) -> None:
    client = world.signed_in("customer_a")
    page = client.get(_alerts(world, world.customer_a))
    assert page.status_code == 200
    assert f'action="/portal/accounts/{world.customer_a}/subscriptions"' in page.text
    made = _subscribe(
        client, world, world.customer_a, events=["balance.low", "topup.received"], subtree="1"
    )
    assert made.status_code == 201, made.text
    assert 'data-testid="secret"' not in made.text  # email: no secret
    assert _subscriptions(world, world.customer_a) == [("email", "ops@example.com")]
    listed = client.get(_alerts(world, world.customer_a)).text
    assert "balance.low, topup.received" in listed
    with world.container.uow.transaction(readonly=True) as tx:
        (sub,) = tx.notify.subscriptions(world.customer_a)
    deleted = post_form(
        client,
        f"/portal/accounts/{world.customer_a}/subscriptions/{sub.id}/delete",
        {},
        _alerts(world, world.customer_a),
    )
    assert deleted.status_code == 303
    assert _subscriptions(world, world.customer_a) == []


def test_subscriptions_are_validated_as_the_api_does(world: World) -> None:
    client = world.signed_in("reseller_a")
    before = snapshot(world.container)
    for fields, words in (
        ({"target": "not-an-address"}, "email"),
        ({"events": ["no.such.event"]}, "unknown event type"),
        ({"events": []}, "at least one event type"),
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "webhook", "target": "http://127.0.0.1/x"}, "webhook"),
        ({"channel": "webhook", "target": "http://10.0.0.1/x"}, "webhook"),
    ):
        refused = _subscribe(client, world, world.customer_a, **fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert words in refused.text.lower(), (fields, refused.text)
    assert snapshot(world.container) == before
    hook = _subscribe(
        client, world, world.customer_a, channel="webhook", target="https://93.184.216.34/x"
    )
    assert hook.status_code == 201, hook.text
    assert 'data-testid="secret">whsec_' in hook.text  # shown this once
    assert "whsec_" not in client.get(_alerts(world, world.customer_a)).text


def test_tenancy_support_and_csrf(world: World) -> None:
    owner = world.signed_in("reseller_a")
    assert _subscribe(owner, world, world.customer_a).status_code == 201
    with world.container.uow.transaction(readonly=True) as tx:
        (sub,) = tx.notify.subscriptions(world.customer_a)
    before = snapshot(world.container)

    other = world.signed_in("reseller_b")
    assert other.get(_alerts(world, world.customer_a)).status_code == 404
    csrf = csrf_of(other.get("/portal/").text)
    assert (
        other.post(
            f"/portal/accounts/{world.customer_a}/subscriptions",
            data={
                "csrf_token": csrf,
                "channel": "email",
                "target": "x@example.com",
                "events": "balance.low",
            },
        ).status_code
        == 404
    )
    gone = other.post(
        f"/portal/accounts/{world.customer_a}/subscriptions/{sub.id}/delete",
        data={"csrf_token": csrf},
    )
    assert gone.status_code == 404

    support = world.signed_in("support_a")
    page = support.get(_alerts(world, world.customer_a))
    assert page.status_code == 200
    assert "ops@example.com" in page.text
    assert "data-write" not in page.text  # no write control rendered
    assert _subscribe(support, world, world.customer_a).status_code == 403
    csrf = csrf_of(page.text)
    denied = support.post(
        f"/portal/accounts/{world.customer_a}/subscriptions/{sub.id}/delete",
        data={"csrf_token": csrf},
    )
    assert denied.status_code == 403

    user = world.signed_in("user_a")  # a user reads, never manages
    assert "data-write" not in user.get(_alerts(world, world.user_a)).text
    assert _subscribe(user, world, world.user_a).status_code == 403

    forged = owner.post(
        f"/portal/accounts/{world.customer_a}/subscriptions/{sub.id}/delete",
        data={"csrf_token": "forged"},
    )
    assert forged.status_code == 403
    no_token = owner.post(
        f"/portal/accounts/{world.customer_a}/subscriptions",
        data={"channel": "email", "target": "y@example.com", "events": "balance.low"},
    )
    assert no_token.status_code == 403
    assert snapshot(world.container) == before


def test_dead_letters_are_marked_with_their_attempts(world: World) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 500) as receiver:
        rewire(world.container, clock, webhook_allow_hosts="127.0.0.1", notify_max_attempts=2)
        client = world.signed_in("reseller_a")
        made = _subscribe(
            client,
            world,
            world.reseller_a,
            channel="webhook",
            target=receiver.url,
            events=["topup.received"],
            subtree="1",
        )
        assert made.status_code == 201, made.text
        with world.container.uow.transaction() as tx:
            tx.ledger.add_outbox_event(
                "topup.received",
                world.customer_a,
                json.dumps({"amount": "5.00", "currency": "USD"}),
                datetime.now(UTC),
            )
        assert world.container.notify.run_once().failed == 1
        clock.advance(days=1)
        assert world.container.notify.run_once().dead == 1

    page = client.get(_alerts(world, world.reseller_a))
    assert page.status_code == 200
    assert "dead letter" in page.text
    assert "HTTP 500" in page.text
    with world.container.uow.transaction(readonly=True) as tx:
        (delivery,) = tx.notify.deliveries(world.reseller_a, limit=10, before_id=None)
    detail = client.get(f"/portal/notifications/{delivery.id}")
    assert detail.status_code == 200
    assert 'data-testid="dead"' in detail.text
    assert detail.text.count("HTTP 500") >= 2  # both attempts listed
    support = world.signed_in("support_a")
    assert support.get(f"/portal/notifications/{delivery.id}").status_code == 200
    for who in ("reseller_b", "customer_a"):
        other = world.signed_in(who)
        assert other.get(f"/portal/notifications/{delivery.id}").status_code == 404
    assert world.signed_in("reseller_b").get(_alerts(world, world.reseller_a)).status_code == 404


def test_templates_edit_invalid_and_reset(world: World) -> None:
    client = world.signed_in("reseller_a")
    base = f"/portal/accounts/{world.reseller_a}/templates"
    listing = client.get(base)
    assert listing.status_code == 200
    assert "None: the defaults are used." in listing.text
    page = client.get(f"{base}/balance.low/email")
    assert page.status_code == 200
    assert "Low balance on account" in page.text  # the default shown
    saved = post_form(
        client,
        f"{base}/balance.low/email",
        {
            "subject": "Low on {{ account_id }}",
            "body": "",
            "sender_name": "Reseller A",
            "sender_address": "",
        },
        f"{base}/balance.low/email",
    )
    assert saved.status_code == 303
    own = world.container.notify_templates.list(_principal(world), world.reseller_a)
    assert [(t.event_type, t.subject, t.body, t.sender_name) for t in own] == [
        ("balance.low", "Low on {{ account_id }}", None, "Reseller A")
    ]
    before = snapshot(world.container)
    bad = post_form(
        client,
        f"{base}/balance.low/email",
        {"subject": "{% if %}", "body": ""},
        f"{base}/balance.low/email",
    )
    assert bad.status_code == 422
    assert "not a valid template" in bad.text
    assert snapshot(world.container) == before

    support = world.signed_in("support_a")
    view = support.get(f"{base}/balance.low/email")
    assert view.status_code == 200
    assert "data-write" not in view.text
    csrf = csrf_of(view.text)
    denied = support.post(f"{base}/balance.low/email/reset", data={"csrf_token": csrf})
    assert denied.status_code == 403
    assert world.signed_in("reseller_b").get(base).status_code == 404
    customer = world.signed_in("customer_a")
    assert customer.get(f"/portal/accounts/{world.customer_a}/templates").status_code == 422
    assert snapshot(world.container) == before

    reset = post_form(client, f"{base}/balance.low/email/reset", {}, f"{base}/balance.low/email")
    assert reset.status_code == 303
    assert world.container.notify_templates.list(_principal(world), world.reseller_a) == []
    assert client.get(f"{base}/balance.low/webhook").status_code == 422
    assert client.get(f"{base}/no.such/email").status_code == 404


def _principal(world: World) -> Principal:
    with world.container.uow.transaction(readonly=True) as tx:
        account = tx.accounts.get(world.root)
    assert account is not None
    return Principal(account.id, account.path, Role.ADMIN)


def _dead_letter(world: World, receiver_url: str, clock: FakeClock) -> int:
    """A webhook delivery of reseller A's that failed its only attempt: dead."""
    rewire(world.container, clock, webhook_allow_hosts="127.0.0.1", notify_max_attempts=1)
    client = world.signed_in("reseller_a")
    made = _subscribe(
        client,
        world,
        world.reseller_a,
        channel="webhook",
        target=receiver_url,
        events=["topup.received"],
        subtree="1",
    )
    assert made.status_code == 201, made.text
    with world.container.uow.transaction() as tx:
        tx.ledger.add_outbox_event(
            "topup.received", world.customer_a, json.dumps({"amount": "5.00"}), datetime.now(UTC)
        )
    assert world.container.notify.run_once().dead == 1
    with world.container.uow.transaction(readonly=True) as tx:
        (delivery,) = tx.notify.deliveries(world.reseller_a, limit=10, before_id=None)
    return delivery.id


def test_retry_now_sends_a_dead_letter_once_more(world: World) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 500 if n == 1 else 200) as receiver:
        dead = _dead_letter(world, receiver.url, clock)
        detail = f"/portal/notifications/{dead}"
        support = world.signed_in("support_a")
        page = support.get(detail).text
        assert "Retry now" not in page
        before = snapshot(world.container)
        csrf = csrf_of(page)
        assert support.post(f"{detail}/retry", data={"csrf_token": csrf}).status_code == 403
        other = world.signed_in("reseller_b")
        csrf = csrf_of(other.get("/portal/").text)
        assert other.post(f"{detail}/retry", data={"csrf_token": csrf}).status_code == 404
        owner = world.signed_in("reseller_a")
        assert "Retry now" in owner.get(detail).text
        assert owner.post(f"{detail}/retry", data={"csrf_token": "forged"}).status_code == 403
        assert snapshot(world.container) == before

        queued = post_form(owner, f"{detail}/retry", {}, detail)
        assert queued.status_code == 303
        assert 'data-testid="status">pending<' in owner.get(detail).text
        again = post_form(owner, f"{detail}/retry", {}, detail)
        assert again.status_code == 409  # not dead any more
        clock.advance(minutes=1)  # the worker's clock: past the retry's "now"
        assert world.container.notify.run_once().delivered == 1
        assert len(receiver.requests) == 2
        page = owner.get(detail).text
        assert 'data-testid="status">delivered<' in page
        assert "Retry now" not in page
