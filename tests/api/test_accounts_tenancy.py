"""Tenancy on every endpoint: other subtrees get 404 and change nothing; support is read-only.

The endpoints are read from the app's OpenAPI document (every route), so a new endpoint
without a sample request here fails the test instead of going unchecked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from api_tree import DECK, Tree, snapshot

from voxbill.services.cards.service import BatchRequest

PREFIX = "/api/v1"
#: Endpoints outside tenancy on purpose.
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/payments/stripe/webhook")}
#: POSTs that read (a support key may call them).
READ_POSTS = {"/api/v1/quote", "/api/v1/cards/balance"}
#: Writes of operator-wide settings (no subtree): any key but the operator's admin gets 403.
OPERATOR_WIDE_WRITES = {
    ("POST", "/api/v1/fx-rates"),
    ("POST", "/api/v1/high-risk-destinations"),
    ("DELETE", "/api/v1/high-risk-destinations/{prefix}"),
}
#: Collections of the operator's staff only: any other role's key gets 403.
STAFF_COLLECTIONS = {("GET", "/api/v1/vendors")}
#: Writes of a name unique across the operator (a reseller's deck into a plan name): a
#: name another subtree has is 409 plan_name_taken (whose is not said), nothing changed.
NAME_WIDE_WRITES = {("POST", "/api/v1/rate-plans/{name}/deck")}


@pytest.fixture(autouse=True)
def _card_batch(tree: Tree) -> None:
    """A one-card batch under customer A1, for the card endpoints' samples."""
    generated = tree.container.cards.generate(
        _system(tree), BatchRequest(tree.customer_a, 1, Decimal("5"))
    )
    tree.card_batch_a = generated.batch.id
    tree.card_a = (generated.cards[0].serial, generated.cards[0].pin)


@pytest.fixture(autouse=True)
def _notification(tree: Tree) -> None:
    """A subscription of customer A1 and one delivery to it, for the notification
    endpoints' samples."""
    from voxbill.domain.notify import Channel

    made = tree.container.subscriptions.create(
        _system(tree),
        tree.customer_a,
        channel=Channel.EMAIL,
        target="a1@example.com",
        events=["topup.received"],
        subtree=False,
    )
    with tree.container.uow.transaction() as tx:
        tx.ledger.add_outbox_event(
            "topup.received", tree.customer_a, "{}", made.subscription.created_at
        )
    tree.container.notify.fan_out()
    tree.subscription_a = made.subscription.id
    (delivery,) = tree.container.subscriptions.notifications(
        _system(tree), tree.customer_a, limit=1, before_id=None
    )
    tree.notification_a = delivery.id


def sample(tree: Tree, method: str, path: str) -> tuple[str, dict[str, Any]]:
    """A valid request aimed at reseller A's subtree: (url, httpx keyword arguments)."""
    on_reseller = path.endswith("/transfers") or "/templates" in path
    account = tree.reseller_a if on_reseller else tree.customer_a
    url = (
        path.replace("{account_id}", str(account))
        .replace("{key_id}", str(tree.key_a_id))
        .replace("{name}", "a-retail")
        .replace("{session_id}", "no-such-call")
        .replace("{identifier_id}", str(tree.identifier_a))
        .replace("{batch_id}", str(tree.card_batch_a))
        .replace("{prefix}", "882")
        .replace("{subscription_id}", str(tree.subscription_a))
        .replace("{notification_id}", str(tree.notification_a))
        .replace("{event_type}", "balance.low")
        .replace("{channel}", "email")
    )
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/accounts"): {
            "json": {"name": "intruder", "kind": "customer", "parent_id": tree.reseller_a}
        },
        ("PATCH", "/accounts/{account_id}"): {"json": {"name": "renamed"}},
        ("POST", "/accounts/{account_id}/identifiers"): {
            "json": {"type": "sip_user", "value": "alice"}
        },
        ("POST", "/accounts/{account_id}/api-keys"): {"json": {"role": "customer"}},
        ("POST", "/accounts/{account_id}/users"): {
            "json": {"email": "intruder@example.com", "role": "customer"}
        },
        ("POST", "/accounts/{account_id}/topups"): {"json": {"amount": "10.00"}},
        ("POST", "/accounts/{account_id}/transfers"): {
            "json": {"to_account_id": tree.customer_a, "amount": "1.00"}
        },
        ("POST", "/accounts/{account_id}/adjustments"): {
            "json": {"amount": "-1.50", "reason": "test"}
        },
        ("POST", "/accounts/{account_id}/refunds"): {"json": {"amount": "1.50", "reason": "x"}},
        ("POST", "/rate-plans"): {
            "json": {"name": "a-copy", "from_plan": "a-retail", "markup_percent": "20"}
        },
        ("POST", "/accounts/{account_id}/payments/checkout"): {"json": {"amount": "10.00"}},
        ("POST", "/notifications/{notification_id}/retry"): {},
        ("PUT", "/accounts/{account_id}/payments/auto-recharge"): {
            "json": {"below": "5.00", "amount": "20.00"}
        },
        ("POST", "/rate-plans/{name}/deck"): {
            "content": DECK,
            "headers": {"content-type": "text/csv"},
        },
        ("POST", "/quote"): {"json": {"plan": "a-retail", "to": "+441234567", "duration": 60}},
        ("POST", "/calls/authorize"): {
            "json": {"caller": {"account_id": tree.customer_a}, "callee": "+441234567"}
        },
        ("POST", "/calls"): {
            "json": {
                "session_id": "call-1",
                "caller": {"account_id": tree.customer_a},
                "callee": "+441234567",
            }
        },
        ("POST", "/calls/{session_id}/update"): {"json": {"duration": 30}},
        ("POST", "/calls/{session_id}/stop"): {"json": {"duration": 60}},
        ("PUT", "/vendors/{account_id}/sip-target"): {
            "json": {"host": "10.0.0.1", "port": 5060, "transport": "udp"}
        },
        ("POST", "/fx-rates"): {"json": {"base": "USD", "quote": "EUR", "rate": "0.92"}},
        ("POST", "/high-risk-destinations"): {"json": {"prefixes": ["882"]}},
        ("POST", "/sms"): {
            "json": {
                "message_id": "m-1",
                "sender": "+441234567",
                "recipient": "+447700900123",
                "text": "hello",
                "account_id": tree.customer_a,
            }
        },
        ("POST", "/card-batches"): {
            "json": {"owner_id": tree.customer_a, "count": 1, "face_value": "1.00"}
        },
        ("POST", "/card-batches/{batch_id}/activate"): {"json": {}},
        ("POST", "/card-batches/{batch_id}/deactivate"): {"json": {}},
        ("POST", "/cards/balance"): {"json": {"card": tree.card_a[0], "pin": tree.card_a[1]}},
        ("POST", "/accounts/{account_id}/subscriptions"): {
            "json": {"channel": "email", "target": "x@example.com", "events": ["balance.low"]}
        },
        ("PUT", "/accounts/{account_id}/templates/{event_type}/{channel}"): {
            "json": {"body": "Balance {{ data.balance }}", "sender_name": "Intruder"}
        },
    }
    key = (method, path.removeprefix(PREFIX))
    if key in bodies:
        return url, bodies[key]
    assert method in ("GET", "DELETE") or key[1].endswith(("/block", "/unblock")), (
        f"{method} {path} is a new endpoint: add a sample request to the tenancy matrix"
    )
    return url, {}


def endpoints(tree: Tree) -> list[tuple[str, str]]:
    """Every operation of the app (from its OpenAPI document, which lists every route)."""
    paths = tree.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    found = []
    for path, operations in paths.items():
        for method in operations:
            if path.startswith(PREFIX) and (method.upper(), path) not in PUBLIC:
                found.append((method.upper(), path))
    return sorted(found)


def call(tree: Tree, key: str, method: str, path: str) -> Any:
    url, kwargs = sample(tree, method, path)
    headers = {**kwargs.pop("headers", {}), **tree.auth(key)}
    return tree.client.request(method, url, headers=headers, **kwargs)


def test_every_endpoint_is_in_the_matrix(tree: Tree) -> None:
    found = endpoints(tree)
    assert len(found) >= 17
    for method, path in found:
        sample(tree, method, path)


def test_another_resellers_key_gets_404_and_changes_nothing(tree: Tree) -> None:
    before = snapshot(tree.container)
    for method, path in endpoints(tree):
        response = call(tree, tree.key_b, method, path)
        if (method, path) in STAFF_COLLECTIONS:
            assert response.status_code == 403, (method, path, response.text)
            continue
        if method == "GET" and "{" not in path:  # a collection: filtered, not refused
            assert response.status_code == 200, (path, response.text)
            assert "a-retail" not in response.text
            assert "Reseller A" not in response.text
            continue
        if (method, path) in OPERATOR_WIDE_WRITES:
            assert response.status_code == 403, (method, path, response.text)
            continue
        if (method, path) in NAME_WIDE_WRITES:
            assert response.status_code == 409, (method, path, response.text)
            assert response.json()["code"] == "plan_name_taken"
            continue
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] in ("not_found", "unknown_rate_plan")
    assert snapshot(tree.container) == before


def test_a_customer_key_from_the_same_reseller_cannot_see_its_sibling(tree: Tree) -> None:
    sibling = tree.container.accounts.create(
        _system(tree), {"kind": "customer", "name": "A2", "parent_id": tree.reseller_a}
    )
    response = tree.client.get(
        f"/api/v1/accounts/{sibling.id}", headers=tree.auth(tree.key_customer_a)
    )
    assert response.status_code == 404
    up = tree.client.get(
        f"/api/v1/accounts/{tree.reseller_a}", headers=tree.auth(tree.key_customer_a)
    )
    assert up.status_code == 404


def test_support_gets_403_on_every_write_and_changes_nothing(tree: Tree) -> None:
    before = snapshot(tree.container)
    writes = [(m, p) for m, p in endpoints(tree) if m != "GET" and p not in READ_POSTS]
    assert writes
    for key in (tree.support_root, tree.support_a):
        for method, path in writes:
            response = call(tree, key, method, path)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "forbidden"
    assert snapshot(tree.container) == before


def test_support_reads_its_subtree(tree: Tree) -> None:
    for key in (tree.support_root, tree.support_a):
        response = tree.client.get(f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(key))
        assert response.status_code == 200
    outside = tree.client.get(
        f"/api/v1/accounts/{tree.customer_b}", headers=tree.auth(tree.support_a)
    )
    assert outside.status_code == 404


BAD_AUTHORIZATION = [None, "Bearer nope", "Bearer vbk_00000000_forged", "Basic abc", "Bearer "]


def test_no_or_bad_key_is_401_everywhere(tree: Tree) -> None:
    before = snapshot(tree.container)
    for header in BAD_AUTHORIZATION:
        for method, path in endpoints(tree):
            url, kwargs = sample(tree, method, path)
            headers = kwargs.pop("headers", {})
            if header is not None:
                headers["Authorization"] = header
            response = tree.client.request(method, url, headers=headers, **kwargs)
            assert response.status_code == 401, (header, method, path, response.text)
            assert response.json()["code"] == "unauthorized"
    assert snapshot(tree.container) == before


def test_a_revoked_key_stops_working(tree: Tree) -> None:
    url = f"/api/v1/accounts/{tree.reseller_a}"
    assert tree.client.get(url, headers=tree.auth(tree.key_a)).status_code == 200
    revoked = tree.client.delete(f"/api/v1/api-keys/{tree.key_a_id}", headers=tree.auth(tree.admin))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert tree.client.get(url, headers=tree.auth(tree.key_a)).status_code == 401


def _system(tree: Tree) -> Any:
    from voxbill.domain.access import Principal, Role

    return Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
