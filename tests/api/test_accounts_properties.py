"""Property-level rules: what a key may change on itself, on its subtree, and never."""

from __future__ import annotations

import itertools
from typing import Any

from api_tree import Tree, snapshot


def patch(tree: Tree, key: str, account: int, body: dict[str, Any]) -> Any:
    return tree.client.patch(f"/api/v1/accounts/{account}", json=body, headers=tree.auth(key))


def create(tree: Tree, key: str, body: dict[str, Any]) -> Any:
    return tree.client.post("/api/v1/accounts", json=body, headers=tree.auth(key))


SELF_CHANGES = [
    {"credit_limit": "1000", "billing": "postpaid"},
    {"billing": "postpaid"},
    {"status": "suspended"},
    {"status": "closed"},
    {"block_balance": "-50"},
    {"alert_balance": "1"},
    {"shared_balance": False},
    {"rate_plan": "b-retail"},
    {"max_concurrent_calls": 1000},
    {"cutoff_mode": "mutual"},
]


def test_an_account_cannot_change_its_own_spending_settings(tree: Tree) -> None:
    before = snapshot(tree.container)
    for body, (key, account) in itertools.product(
        SELF_CHANGES,
        (
            (tree.key_a, tree.reseller_a),
            (tree.key_customer_a, tree.customer_a),
            (tree.key_user_a, tree.user_a),
            (tree.admin, tree.root),
        ),
    ):
        if "shared_balance" in body:  # flip whatever it is
            current = tree.client.get(f"/api/v1/accounts/{account}", headers=tree.auth(key))
            body = {"shared_balance": not current.json()["shared_balance"]}
        response = patch(tree, key, account, body)
        assert response.status_code == 403, (account, body, response.text)
        assert response.json()["code"] == "forbidden"
    assert snapshot(tree.container) == before


def test_an_account_can_change_its_own_name_and_timezone(tree: Tree) -> None:
    body = {"name": "A renamed", "timezone": "Europe/Paris"}
    response = patch(tree, tree.key_a, tree.reseller_a, body)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "A renamed"
    assert response.json()["timezone"] == "Europe/Paris"


def test_settings_nothing_used_are_not_accepted(tree: Tree) -> None:
    """``contacts`` and ``did_plan`` were stored and never used (issue 11): gone from the
    API, refused like any unknown field, and absent from what an account reads."""
    before = snapshot(tree.container)
    for body in ({"contacts": {"email": "a@example.com"}}, {"did_plan": "retail"}):
        response = patch(tree, tree.key_a, tree.customer_a, body)
        assert response.status_code == 422, (body, response.text)
    assert snapshot(tree.container) == before
    read = tree.client.get(f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(tree.key_a))
    assert not {"contacts", "did_plan"} & set(read.json())


def test_a_parent_sets_credit_and_blocks_its_child(tree: Tree) -> None:
    response = patch(
        tree, tree.key_a, tree.customer_a, {"billing": "postpaid", "credit_limit": "25.00"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["credit_limit"] == "25.00"
    blocked = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/block", headers=tree.auth(tree.key_a)
    )
    assert blocked.json()["status"] == "blocked"
    self_unblock = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/unblock", headers=tree.auth(tree.key_customer_a)
    )
    assert self_unblock.status_code == 403
    unblocked = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/unblock", headers=tree.auth(tree.key_a)
    )
    assert unblocked.json()["status"] == "active"


def test_moves_stay_inside_the_callers_subtree(tree: Tree) -> None:
    sub = create(tree, tree.key_a, {"name": "Sub", "kind": "reseller"}).json()["id"]
    before = snapshot(tree.container)
    # out of the subtree: the target parent does not exist for reseller A
    assert (
        patch(tree, tree.key_a, tree.customer_a, {"parent_id": tree.reseller_b}).status_code == 404
    )
    assert patch(tree, tree.key_a, tree.customer_a, {"parent_id": tree.root}).status_code == 404
    # itself: never
    assert patch(tree, tree.key_a, tree.reseller_a, {"parent_id": sub}).status_code == 403
    # under its own descendant, or under a kind that cannot hold it
    assert (
        patch(tree, tree.admin, tree.reseller_a, {"parent_id": tree.customer_a}).status_code == 422
    )
    assert patch(tree, tree.admin, tree.customer_a, {"parent_id": tree.user_a}).status_code == 422
    assert patch(tree, tree.admin, tree.root, {"parent_id": tree.reseller_a}).status_code == 403
    assert snapshot(tree.container) == before


def test_a_move_rewrites_the_whole_subtree_path(tree: Tree) -> None:
    sub = create(tree, tree.key_a, {"name": "Sub", "kind": "reseller"}).json()
    moved = patch(tree, tree.key_a, tree.customer_a, {"parent_id": sub["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == f"{sub['path']}{tree.customer_a}/"
    user = tree.client.get(f"/api/v1/accounts/{tree.user_a}", headers=tree.auth(tree.key_a))
    assert user.json()["path"] == f"{sub['path']}{tree.customer_a}/{tree.user_a}/"
    assert user.json()["depth"] == 4
    # the customer's own key still works and now sees itself at its new place
    me = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(tree.key_customer_a)
    )
    assert me.status_code == 200


REFUSED_CREATIONS = [
    ("key_customer_a", {"name": "x", "kind": "reseller"}, 403),
    ("key_customer_a", {"name": "x", "kind": "customer"}, 403),
    ("key_customer_a", {"name": "x", "kind": "vendor"}, 403),
    ("key_user_a", {"name": "x", "kind": "user"}, 403),
    ("key_a", {"name": "x", "kind": "vendor"}, 403),
    ("key_a", {"name": "x", "kind": "operator"}, 422),
    ("key_a", {"name": "x", "kind": "user"}, 422),  # a user belongs to a customer
    ("key_a", {"name": "x", "kind": "customer", "rate_plan": "b-retail"}, 422),
    ("key_a", {"name": "x", "kind": "customer", "credit_limit": "5"}, 422),  # prepaid
    (
        "key_a",
        {"name": "x", "kind": "customer", "currency": "EUR", "shared_balance": True},
        422,
    ),
    ("key_a", {"name": "x", "kind": "customer", "timezone": "Mars/Base"}, 422),
    ("key_a", {"name": "", "kind": "customer"}, 422),
    ("key_a", {"name": "a\x00b", "kind": "customer"}, 422),
    ("key_a", {"name": "x", "kind": "customer", "credit_limit": 5.5}, 422),
]


def test_refused_creations_change_nothing(tree: Tree) -> None:
    before = snapshot(tree.container)
    for key_name, body, status in REFUSED_CREATIONS:
        response = create(tree, getattr(tree, key_name), body)
        assert response.status_code == status, (body, response.text)
    assert snapshot(tree.container) == before


def test_a_reseller_builds_its_own_tree(tree: Tree) -> None:
    customer = create(
        tree,
        tree.key_a,
        {
            "name": "Hotel",
            "kind": "customer",
            "billing": "postpaid",
            "credit_limit": "50",
            "rate_plan": "a-retail",
            "max_concurrent_calls": 10,
        },
    )
    assert customer.status_code == 201, customer.text
    body = customer.json()
    assert body["parent_id"] == tree.reseller_a
    assert body["currency"] == "USD"
    assert body["credit_limit"] == "50.00"
    card = create(tree, tree.key_a, {"name": "Card", "kind": "card", "parent_id": body["id"]})
    assert card.status_code == 201
    children = tree.client.get(
        f"/api/v1/accounts/{tree.reseller_a}/children?limit=1", headers=tree.auth(tree.key_a)
    ).json()
    assert [c["id"] for c in children["items"]] == [tree.customer_a]
    rest = tree.client.get(
        f"/api/v1/accounts/{tree.reseller_a}/children?after_id={children['next_after_id']}",
        headers=tree.auth(tree.key_a),
    ).json()
    assert [c["id"] for c in rest["items"]] == [body["id"]]
    assert rest["next_after_id"] is None


KEY_ISSUING = [
    ("key_a", "reseller_a", "admin", 403),
    ("key_a", "customer_a", "reseller", 422),  # a reseller key on a customer account
    ("key_customer_a", "customer_a", "reseller", 403),
    ("key_user_a", "user_a", "customer", 403),
    ("key_user_a", "user_a", "user", 201),
    ("key_a", "customer_a", "customer", 201),
    ("key_a", "reseller_a", "support", 201),
]


def test_keys_are_never_issued_above_the_callers_role(tree: Tree) -> None:
    for key_name, account, role, status in KEY_ISSUING:
        _issue(tree, key_name, account, role, status)


def _issue(tree: Tree, key_name: str, account: str, role: str, status: int) -> None:
    response = tree.client.post(
        f"/api/v1/accounts/{getattr(tree, account)}/api-keys",
        json={"role": role},
        headers=tree.auth(getattr(tree, key_name)),
    )
    assert response.status_code == status, response.text
    if status == 201:
        secret = response.json()["api_key"]
        assert secret.startswith(response.json()["prefix"] + "_")
        me = tree.client.get(
            f"/api/v1/accounts/{getattr(tree, account)}", headers=tree.auth(secret)
        )
        assert me.status_code == 200
        listed = tree.client.get(
            f"/api/v1/accounts/{getattr(tree, account)}/api-keys",
            headers=tree.auth(tree.admin),
        ).text
        assert secret not in listed
