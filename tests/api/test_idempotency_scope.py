"""Idempotency keys belong to the calling account, and match the validated request."""

from __future__ import annotations

from decimal import Decimal

from api_tree import Tree

from voxbill.domain.access import Principal, Role


def url(account: int, what: str) -> str:
    return f"/api/v1/accounts/{account}/{what}"


def second_key(tree: Tree, account: int, role: Role) -> str:
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    return tree.container.auth.issue(system, account, role).secret


def test_two_keys_of_one_reseller_share_idempotency_keys(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.reseller_a, Decimal("50"), actor="test")
    other_key = second_key(tree, tree.reseller_a, Role.RESELLER)
    body = {"to_account_id": tree.customer_a, "amount": "7"}
    first = tree.client.post(
        url(tree.reseller_a, "transfers"),
        json=body,
        headers={**tree.auth(tree.key_a), "Idempotency-Key": "fund-42"},
    )
    again = tree.client.post(
        url(tree.reseller_a, "transfers"),
        json=body,
        headers={**tree.auth(other_key), "Idempotency-Key": "fund-42"},
    )
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert tree.container.ledger.balance(tree.reseller_a).balance == Decimal("43")
    assert tree.container.ledger.balance(tree.customer_a).balance == Decimal("7")


def test_equal_money_spelled_differently_is_the_same_request(tree: Tree) -> None:
    headers = {**tree.auth(tree.admin), "Idempotency-Key": "topup-spelling"}
    first = tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "10.0"}, headers=headers
    )
    same = tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "10.00"}, headers=headers
    )
    assert first.status_code == same.status_code == 201, same.text
    assert same.headers.get("Idempotent-Replayed") == "true"
    other = tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "10.01"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    noted = tree.client.post(
        url(tree.reseller_a, "topups"), json={"amount": "10", "note": "x"}, headers=headers
    )
    assert noted.status_code == 409
    assert tree.container.ledger.balance(tree.reseller_a).balance == Decimal("10")
