"""Keys of a blocked, suspended or closed chain (issue 10, finding 18).

Blocked or suspended (the key's account or any above it): the key reads, and may still
update and stop the calls it started and revoke keys; every other write is
``403 account_not_active`` and changes nothing. Closed: the key, and every key below
the closed account, is dead (401).
"""

from __future__ import annotations

from typing import Any

import pytest
from api_tree import Tree, snapshot
from test_accounts_tenancy import (  # noqa: F401 (the samples' fixtures)
    _card_batch,
    _notification,
    endpoints,
    sample,
)

from voxbill.services.access.identifiers import IdentifierType

#: writes a key of an inactive chain may still make (the call's session is unknown: 404)
STILL_ALLOWED = {
    ("POST", "/api/v1/calls/{session_id}/update"): 404,
    ("POST", "/api/v1/calls/{session_id}/stop"): 404,
    ("POST", "/api/v1/quote"): 200,  # a price, nothing written
    ("POST", "/api/v1/cards/balance"): 200,  # a card's balance and history, nothing written
}


#: A card holder's balance (a read) verifies the PIN: its guess budget counts the attempt.
PIN_BOOKKEEPING = {"card_pin_counters", "pin_asker_counters"}


def _data(tree: Tree) -> dict[str, Any]:
    """Every table but the PIN guess counters: what the refused writes must not change."""
    return {k: v for k, v in snapshot(tree.container).items() if k not in PIN_BOOKKEEPING}


def _set_status(tree: Tree, account: int, status: str) -> None:
    response = tree.client.patch(
        f"/api/v1/accounts/{account}", json={"status": status}, headers=tree.auth(tree.admin)
    )
    assert response.status_code == 200, response.text


def _call(tree: Tree, key: str, method: str, path: str) -> Any:
    url, kwargs = sample(tree, method, path)
    headers = {**kwargs.pop("headers", {}), **tree.auth(key)}
    return tree.client.request(method, url, headers=headers, **kwargs)


@pytest.mark.parametrize("status", ["blocked", "suspended"])
def test_a_blocked_or_suspended_chain_s_keys_only_read(tree: Tree, status: str) -> None:
    _set_status(tree, tree.reseller_a, status)
    before = _data(tree)
    for method, path in endpoints(tree):  # every write a reseller key may make when active
        if method == "GET" or (method, path) == ("DELETE", "/api/v1/api-keys/{key_id}"):
            continue
        response = _call(tree, tree.key_a, method, path)
        expected = STILL_ALLOWED.get((method, path), 403)
        assert response.status_code == expected, (method, path, response.text)
        if expected == 403:
            assert response.json()["code"] == "account_not_active", path
    # a descendant's key: what its customer may do when active, refused the same way
    customer = tree.auth(tree.key_customer_a)
    writes = [
        ("/api/v1/accounts", {"name": "U", "kind": "user", "parent_id": tree.customer_a}),
        (f"/api/v1/accounts/{tree.user_a}/api-keys", {"role": "user"}),
    ]
    for url, body in writes:
        response = tree.client.post(url, json=body, headers=customer)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["code"] == "account_not_active"
    for key in (tree.key_a, tree.key_customer_a, tree.support_a):  # reads still work
        reads = tree.client.get(f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(key))
        assert reads.status_code == 200
    assert _data(tree) == before
    # revoking takes power away: allowed
    revoked = tree.client.delete(f"/api/v1/api-keys/{tree.key_a_id}", headers=tree.auth(tree.key_a))
    assert revoked.status_code == 200, revoked.text


def test_writes_come_back_when_the_chain_is_active_again(tree: Tree) -> None:
    create = {"name": "New", "kind": "customer"}
    _set_status(tree, tree.reseller_a, "blocked")
    refused = tree.client.post("/api/v1/accounts", json=create, headers=tree.auth(tree.key_a))
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_not_active"
    _set_status(tree, tree.reseller_a, "active")
    created = tree.client.post("/api/v1/accounts", json=create, headers=tree.auth(tree.key_a))
    assert created.status_code == 201, created.text


def test_a_blocked_reseller_settles_its_calls_in_progress(tree: Tree) -> None:
    container = tree.container
    container.identifiers.add(
        _system(tree), tree.customer_a, IdentifierType.ANI, "+15550001111", None
    )
    topup = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/topups",
        json={"amount": "10.00"},
        headers=tree.auth(tree.admin),
    )
    assert topup.status_code == 201, topup.text
    start = {"caller": "+15550001111", "callee": "+441234567", "interim": True}
    for sid in ("in-progress", "in-progress-2"):
        started = tree.client.post(
            "/api/v1/calls", json={**start, "session_id": sid}, headers=tree.auth(tree.key_a)
        )
        assert started.status_code == 201, started.text
    _set_status(tree, tree.reseller_a, "blocked")
    refused = tree.client.post(
        "/api/v1/calls", json={**start, "session_id": "new"}, headers=tree.auth(tree.key_a)
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_not_active"
    updated = tree.client.post(
        "/api/v1/calls/in-progress/update", json={"duration": 30}, headers=tree.auth(tree.key_a)
    )
    assert updated.status_code == 200, updated.text
    for sid in ("in-progress", "in-progress-2"):
        stopped = tree.client.post(
            f"/api/v1/calls/{sid}/stop", json={"duration": 42}, headers=tree.auth(tree.key_a)
        )
        assert stopped.status_code == 200, stopped.text


def test_a_closed_account_s_keys_and_its_descendants_keys_are_dead(tree: Tree) -> None:
    _set_status(tree, tree.reseller_a, "closed")
    url = f"/api/v1/accounts/{tree.customer_a}"
    for key in (tree.key_a, tree.support_a, tree.key_customer_a, tree.key_user_a):
        response = tree.client.get(url, headers=tree.auth(key))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized"
    # the rest of the operator is untouched
    assert tree.client.get(f"/api/v1/accounts/{tree.customer_b}", headers=tree.auth(tree.key_b))
    assert tree.client.get(url, headers=tree.auth(tree.admin)).status_code == 200


def _system(tree: Tree) -> Any:
    from voxbill.domain.access import Principal, Role

    return Principal(tree.root, f"/{tree.root}/", Role.ADMIN)


def test_nothing_is_created_under_a_closed_account(tree: Tree) -> None:
    _set_status(tree, tree.customer_a, "closed")
    admin = tree.auth(tree.admin)
    child = {"name": "Late", "kind": "user", "parent_id": tree.customer_a}
    created = tree.client.post("/api/v1/accounts", json=child, headers=admin)
    assert created.status_code == 409, created.text
    minted = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/api-keys", json={"role": "customer"}, headers=admin
    )
    assert minted.status_code == 409, minted.text
