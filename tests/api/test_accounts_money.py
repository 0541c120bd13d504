"""Money through HTTP: top-up, transfer, adjustment, refund, balance, history, idempotency."""

from __future__ import annotations

from decimal import Decimal

from api_tree import Tree, snapshot


def url(account: int, what: str) -> str:
    return f"/api/v1/accounts/{account}/{what}"


def balance(tree: Tree, account: int, key: str | None = None) -> dict[str, str]:
    response = tree.client.get(url(account, "balance"), headers=tree.auth(key or tree.admin))
    assert response.status_code == 200, response.text
    return response.json()


def test_operator_tops_up_reseller_funds_customer_and_adjusts(tree: Tree) -> None:
    top = tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "100.00"}, headers=tree.auth(tree.admin)
    )
    assert top.status_code == 201, top.text
    assert top.json()["amount"] == "100.00"
    assert Decimal(top.json()["balance_after"]) == 100
    funded = tree.client.post(
        url(tree.reseller_a, "transfers"),
        json={"to_account_id": tree.customer_a, "amount": "30.50"},
        headers=tree.auth(tree.key_a),
    )
    assert funded.status_code == 201, funded.text
    adjusted = tree.client.post(
        url(tree.customer_a, "adjustments"),
        json={"amount": "-1.25", "reason": "porting fee"},
        headers=tree.auth(tree.key_a),
    )
    assert adjusted.status_code == 201, adjusted.text
    refunded = tree.client.post(
        url(tree.customer_a, "refunds"),
        json={"amount": "0.25", "reason": "goodwill"},
        headers=tree.auth(tree.key_a),
    )
    assert refunded.status_code == 201, refunded.text

    # the reseller's adjustments move its own money: +1.25 fee back, -0.25 goodwill paid
    assert Decimal(balance(tree, tree.reseller_a)["balance"]) == Decimal("70.50")
    mine = balance(tree, tree.customer_a, tree.key_customer_a)
    assert Decimal(mine["balance"]) == Decimal("29.50")
    assert mine["available"] == mine["balance"]
    assert mine["currency"] == "USD"
    # the user shares the customer's balance
    shared = balance(tree, tree.user_a, tree.key_user_a)
    assert shared["balance_account_id"] == tree.customer_a
    assert shared["balance"] == mine["balance"]

    history = tree.client.get(
        url(tree.customer_a, "ledger") + "?limit=2", headers=tree.auth(tree.key_customer_a)
    )
    assert history.status_code == 200
    page = history.json()
    assert [e["amount"] for e in page["items"]] == ["0.25", "-1.25"]
    assert page["next_before_id"] is not None
    rest = tree.client.get(
        url(tree.customer_a, "ledger") + f"?before_id={page['next_before_id']}",
        headers=tree.auth(tree.key_customer_a),
    ).json()
    assert [Decimal(e["amount"]) for e in rest["items"]] == [Decimal("30.50")]
    assert rest["next_before_id"] is None
    assert tree.container.ledger.verify() == []


def test_idempotent_top_up_replays_and_conflicts(tree: Tree) -> None:
    headers = {**tree.auth(tree.admin), "Idempotency-Key": "topup-1"}
    first = tree.client.post(url(tree.reseller_a, "topups"), json={"amount": "10"}, headers=headers)
    assert first.status_code == 201, first.text
    again = tree.client.post(url(tree.reseller_a, "topups"), json={"amount": "10"}, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert Decimal(balance(tree, tree.reseller_a)["balance"]) == 10

    before = snapshot(tree.container)
    other = tree.client.post(url(tree.reseller_a, "topups"), json={"amount": "11"}, headers=headers)
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "idempotency_conflict"
    elsewhere = tree.client.post(
        url(tree.reseller_b, "topups"), json={"amount": "10"}, headers=headers
    )
    assert elsewhere.status_code == 409
    assert snapshot(tree.container) == before
    assert Decimal(balance(tree, tree.reseller_a)["balance"]) == 10


def test_idempotency_keys_are_scoped_to_the_calling_account(tree: Tree) -> None:
    tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "50"}, headers=tree.auth(tree.admin)
    )
    tree.client.post(
        url(tree.reseller_b, "topups"), json={"amount": "50"}, headers=tree.auth(tree.admin)
    )
    for key, source in ((tree.key_a, tree.reseller_a), (tree.key_b, tree.reseller_b)):
        child = tree.customer_a if source == tree.reseller_a else tree.customer_b
        response = tree.client.post(
            url(source, "transfers"),
            json={"to_account_id": child, "amount": "5"},
            headers={**tree.auth(key), "Idempotency-Key": "same-key"},
        )
        assert response.status_code == 201, response.text
        assert response.headers.get("Idempotent-Replayed") is None


def test_refused_money_moves_change_nothing(tree: Tree) -> None:
    before = snapshot(tree.container)
    attempts = [
        # a reseller cannot top itself (or anyone) up: top-ups are operator money in
        (tree.key_a, url(tree.reseller_a, "topups"), {"amount": "5"}, 403),
        (tree.key_a, url(tree.customer_a, "topups"), {"amount": "5"}, 403),
        (tree.admin, url(tree.root, "topups"), {"amount": "5"}, 403),
        # nobody adjusts or refunds itself
        (
            tree.key_customer_a,
            url(tree.customer_a, "adjustments"),
            {"amount": "5", "reason": "x"},
            403,
        ),
        (tree.key_a, url(tree.reseller_a, "refunds"), {"amount": "5", "reason": "x"}, 403),
        (tree.key_user_a, url(tree.user_a, "adjustments"), {"amount": "5", "reason": "x"}, 403),
        # transfers: only to a direct child, only out of one's own account
        (
            tree.key_a,
            url(tree.reseller_a, "transfers"),
            {"to_account_id": tree.user_a, "amount": "1"},
            403,
        ),
        (
            tree.key_a,
            url(tree.customer_a, "transfers"),
            {"to_account_id": tree.user_a, "amount": "1"},
            403,
        ),
        (
            tree.key_a,
            url(tree.reseller_a, "transfers"),
            {"to_account_id": tree.customer_b, "amount": "1"},
            422,
        ),
        (
            tree.key_customer_a,
            url(tree.customer_a, "transfers"),
            {"to_account_id": tree.reseller_a, "amount": "1"},
            422,
        ),
        # funds short: a prepaid reseller cannot go below zero
        (
            tree.key_a,
            url(tree.reseller_a, "transfers"),
            {"to_account_id": tree.customer_a, "amount": "1"},
            402,
        ),
        # bad amounts
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": 10.5}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "-3"}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "0"}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "1e30"}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "0.000000001"}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "NaN"}, 422),
        (tree.admin, url(tree.reseller_a, "topups"), {"amount": "1", "extra": 1}, 422),
        (tree.key_a, url(tree.customer_a, "adjustments"), {"amount": "0", "reason": "x"}, 422),
        (tree.key_a, url(tree.customer_a, "adjustments"), {"amount": "1", "reason": ""}, 422),
    ]
    for key, path, body, status in attempts:
        response = tree.client.post(path, json=body, headers=tree.auth(key))
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert snapshot(tree.container) == before


def test_sharing_the_parents_balance_needs_an_empty_own_balance(tree: Tree) -> None:
    admin = tree.auth(tree.admin)
    tree.client.post(url(tree.reseller_a, "topups"), json={"amount": "10"}, headers=admin)
    tree.client.post(
        url(tree.reseller_a, "transfers"),
        json={"to_account_id": tree.customer_a, "amount": "5"},
        headers=tree.auth(tree.key_a),
    )
    before = snapshot(tree.container)
    path = f"/api/v1/accounts/{tree.customer_a}"
    refused = tree.client.patch(path, json={"shared_balance": True}, headers=tree.auth(tree.key_a))
    assert refused.status_code == 409, refused.text
    assert snapshot(tree.container) == before
    # funding a child that shares one's own balance is refused too
    same_book = tree.client.post(
        url(tree.customer_a, "transfers"),
        json={"to_account_id": tree.user_a, "amount": "1"},
        headers=tree.auth(tree.key_customer_a),
    )
    assert same_book.status_code == 422
    tree.client.post(
        url(tree.customer_a, "adjustments"),
        json={"amount": "-5", "reason": "returned to the reseller"},
        headers=tree.auth(tree.key_a),
    )
    shared = tree.client.patch(path, json={"shared_balance": True}, headers=tree.auth(tree.key_a))
    assert shared.status_code == 200, shared.text
    assert balance(tree, tree.customer_a)["balance_account_id"] == tree.reseller_a
