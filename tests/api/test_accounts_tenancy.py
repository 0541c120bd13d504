"""Tenancy on every endpoint: other subtrees get 404 and change nothing; support is read-only.

The endpoints are read from the app's OpenAPI document (every route), so a new endpoint
without a sample request here fails the test instead of going unchecked.
"""

from __future__ import annotations

from typing import Any

from api_tree import DECK, Tree, snapshot

PREFIX = "/api/v1"
#: Endpoints outside tenancy on purpose.
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/payments/stripe/webhook")}
#: POSTs that read (a support key may call them).
READ_POSTS = {"/api/v1/quote"}
#: Writes of operator-wide settings (no subtree): any key but the operator's admin gets 403.
OPERATOR_WIDE_WRITES = {("POST", "/api/v1/fx-rates")}


def sample(tree: Tree, method: str, path: str) -> tuple[str, dict[str, Any]]:
    """A valid request aimed at reseller A's subtree: (url, httpx keyword arguments)."""
    account = tree.reseller_a if path.endswith("/transfers") else tree.customer_a
    url = (
        path.replace("{account_id}", str(account))
        .replace("{key_id}", str(tree.key_a_id))
        .replace("{name}", "a-retail")
        .replace("{session_id}", "no-such-call")
        .replace("{identifier_id}", str(tree.identifier_a))
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
        ("POST", "/accounts/{account_id}/topups"): {"json": {"amount": "10.00"}},
        ("POST", "/accounts/{account_id}/transfers"): {
            "json": {"to_account_id": tree.customer_a, "amount": "1.00"}
        },
        ("POST", "/accounts/{account_id}/adjustments"): {
            "json": {"amount": "-1.50", "reason": "test"}
        },
        ("POST", "/accounts/{account_id}/refunds"): {"json": {"amount": "1.50", "reason": "x"}},
        ("POST", "/accounts/{account_id}/payments/checkout"): {"json": {"amount": "10.00"}},
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
        ("POST", "/sms"): {
            "json": {
                "message_id": "m-1",
                "sender": "+441234567",
                "recipient": "+447700900123",
                "text": "hello",
                "account_id": tree.customer_a,
            }
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
        if method == "GET" and "{" not in path:  # a collection: filtered, not refused
            assert response.status_code == 200, (path, response.text)
            assert "a-retail" not in response.text
            assert "Reseller A" not in response.text
            continue
        if (method, path) in OPERATOR_WIDE_WRITES:
            assert response.status_code == 403, (method, path, response.text)
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
