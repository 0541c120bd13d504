"""Notification subscriptions and deliveries over HTTP: tenancy, validation, SSRF
refusals, and every delivery and attempt visible (issue 13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from api_tree import Tree, snapshot

from support.notify_world import FakeClock, http_receiver, rewire


def _subscribe(tree: Tree, key: str, account: int, **body: object) -> object:
    payload = {"channel": "email", "target": "ops@example.com", "events": ["balance.low"]}
    return tree.client.post(
        f"/api/v1/accounts/{account}/subscriptions",
        json=payload | body,
        headers=tree.auth(key),
    )


def test_a_reseller_manages_its_subtrees_subscriptions_and_no_one_elses(tree: Tree) -> None:
    made = _subscribe(
        tree,
        tree.key_a,
        tree.customer_a,
        channel="webhook",
        target="https://93.184.216.34/x",  # public (tests have no DNS)
        events=["balance.low", "balance.blocked"],
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["balance.blocked", "balance.low"]
    listed = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/subscriptions", headers=tree.auth(tree.key_a)
    )
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()] == [body["id"]]
    assert "secret" not in listed.json()[0]  # shown once

    before = snapshot(tree.container)
    for key in (tree.key_b,):  # another reseller: as if nothing existed
        assert _subscribe(tree, key, tree.customer_a).status_code == 404
        path = f"/api/v1/accounts/{tree.customer_a}/subscriptions"
        assert tree.client.get(path, headers=tree.auth(key)).status_code == 404
        gone = tree.client.delete(f"/api/v1/subscriptions/{body['id']}", headers=tree.auth(key))
        assert gone.status_code == 404
    # the customer: its own, not its parent's
    assert _subscribe(tree, tree.key_customer_a, tree.reseller_a).status_code == 404
    # support reads, never writes; a user key never writes
    path = f"/api/v1/accounts/{tree.customer_a}/subscriptions"
    assert tree.client.get(path, headers=tree.auth(tree.support_a)).status_code == 200
    assert _subscribe(tree, tree.support_a, tree.customer_a).status_code == 403
    denied = tree.client.delete(
        f"/api/v1/subscriptions/{body['id']}", headers=tree.auth(tree.support_a)
    )
    assert denied.status_code == 403
    assert _subscribe(tree, tree.key_user_a, tree.user_a).status_code == 403
    assert snapshot(tree.container) == before

    own = _subscribe(
        tree, tree.key_customer_a, tree.customer_a, channel="sms", target="+447911123456"
    )
    assert own.status_code == 201
    assert own.json()["secret"] is None
    deleted = tree.client.delete(
        f"/api/v1/subscriptions/{body['id']}", headers=tree.auth(tree.key_a)
    )
    assert deleted.status_code == 204
    listed = tree.client.get(path, headers=tree.auth(tree.key_a)).json()
    assert [s["channel"] for s in listed] == ["sms"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"target": "not-an-address"}, "invalid_input"),
        ({"channel": "sms", "target": "07911123456"}, "invalid_input"),
        ({"channel": "webhook", "target": "ftp://example.com/"}, "invalid_input"),
        ({"events": ["balance.lowish"]}, "invalid_input"),
        ({"events": []}, "invalid_input"),
        ({"channel": "pigeon"}, "invalid_input"),
    ],
)
def test_bad_subscriptions_are_422_and_change_nothing(
    tree: Tree, body: dict[str, object], code: str
) -> None:
    before = snapshot(tree.container)
    response = _subscribe(tree, tree.key_a, tree.customer_a, **body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert snapshot(tree.container) == before


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "https://192.168.0.10:8443/hook",
        "http://localhost:8080/",  # a name resolving to loopback
    ],
)
def test_webhooks_to_internal_addresses_are_refused(tree: Tree, target: str) -> None:
    before = snapshot(tree.container)
    response = _subscribe(tree, tree.key_a, tree.customer_a, channel="webhook", target=target)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "webhook_target_forbidden"
    assert snapshot(tree.container) == before


def test_an_allowed_host_may_be_internal(tree: Tree) -> None:
    rewire(tree.container, webhook_allow_hosts="127.0.0.1,localhost")
    for target in ("http://127.0.0.1:9/", "http://localhost:9/"):
        made = _subscribe(tree, tree.key_a, tree.customer_a, channel="webhook", target=target)
        assert made.status_code == 201, made.text
    refused = _subscribe(
        tree, tree.key_a, tree.customer_a, channel="webhook", target="http://10.0.0.1/"
    )
    assert refused.json()["code"] == "webhook_target_forbidden"


def test_dead_deliveries_and_every_attempt_are_visible_to_their_tenant(tree: Tree) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 500) as receiver:
        rewire(tree.container, clock, webhook_allow_hosts="127.0.0.1", notify_max_attempts=2)
        made = _subscribe(
            tree,
            tree.key_a,
            tree.reseller_a,
            channel="webhook",
            target=receiver.url,
            events=["topup.received"],
            subtree=True,
        )
        assert made.status_code == 201, made.text
        with tree.container.uow.transaction() as tx:
            tx.ledger.add_outbox_event(
                "topup.received",
                tree.customer_a,
                json.dumps({"amount": "5.00", "currency": "USD"}),
                datetime.now(UTC),
            )
        assert tree.container.notify.run_once().failed == 1
        clock.advance(days=1)
        assert tree.container.notify.run_once().dead == 1
        assert len(receiver.requests) == 2

    path = f"/api/v1/accounts/{tree.reseller_a}/notifications"
    page = tree.client.get(path, headers=tree.auth(tree.support_a))
    assert page.status_code == 200, page.text
    (item,) = page.json()["items"]
    assert item["type"] == "topup.received"
    assert item["account_id"] == tree.customer_a
    assert (item["channel"], item["target"]) == ("webhook", receiver.url)
    assert (item["status"], item["attempts"], item["last_error"]) == ("dead", 2, "HTTP 500")
    assert isinstance(item["event_id"], int)
    detail = tree.client.get(f"/api/v1/notifications/{item['id']}", headers=tree.auth(tree.key_a))
    assert detail.status_code == 200
    assert [(a["number"], a["ok"], a["error"]) for a in detail.json()["attempt_log"]] == [
        (1, False, "HTTP 500"),
        (2, False, "HTTP 500"),
    ]
    for url in (path, f"/api/v1/notifications/{item['id']}"):
        assert tree.client.get(url, headers=tree.auth(tree.key_b)).status_code == 404
    # the customer has no subscription of its own: nothing listed, nothing leaked
    mine = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/notifications", headers=tree.auth(tree.key_customer_a)
    )
    assert mine.json() == {"items": [], "next_before_id": None}


def test_an_account_blocked_by_hand_is_a_balance_blocked_event(tree: Tree) -> None:
    made = _subscribe(tree, tree.key_a, tree.reseller_a, events=["balance.blocked"], subtree=True)
    assert made.status_code == 201, made.text
    blocked = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/block", headers=tree.auth(tree.admin)
    )
    assert blocked.status_code == 200, blocked.text
    assert tree.container.notify.fan_out() == 1
    page = tree.client.get(
        f"/api/v1/accounts/{tree.reseller_a}/notifications", headers=tree.auth(tree.key_a)
    ).json()
    assert [(i["type"], i["account_id"]) for i in page["items"]] == [
        ("balance.blocked", tree.customer_a)
    ]
