"""Adjustments and refunds by a non-operator key move the caller's own money.

Worked example: reseller A holds 100.00. It credits its customer 30.00 (A 70.00,
customer 30.00), refunds 5.00 (A 65.00, customer 35.00) and takes back 10.00 with a
negative adjustment (A 75.00, customer 25.00). The operator's books never move.
"""

from __future__ import annotations

from decimal import Decimal

from api_tree import Tree, snapshot
from sqlalchemy import func, select

from voxbill.storage.schema import metadata


def url(account: int, what: str) -> str:
    return f"/api/v1/accounts/{account}/{what}"


def system_entries(tree: Tree) -> int:
    books, entries = metadata.tables["ledger_books"], metadata.tables["ledger_entries"]
    query = (
        select(func.count())
        .select_from(entries.join(books, books.c.id == entries.c.book_id))
        .where(books.c.account_id.is_(None))
    )
    with tree.container.db.transaction(readonly=True) as conn:
        return int(conn.execute(query).scalar_one())


def test_a_reseller_pays_for_what_it_gives_and_gets_back_what_it_takes(tree: Tree) -> None:
    ledger = tree.container.ledger
    ledger.top_up(tree.reseller_a, Decimal("100.00"), actor="test")
    operator_entries = system_entries(tree)
    steps = [
        ("adjustments", {"amount": "30.00", "reason": "welcome credit"}, "70", "30"),
        ("refunds", {"amount": "5.00", "reason": "dropped call"}, "65", "35"),
        ("adjustments", {"amount": "-10.00", "reason": "porting fee"}, "75", "25"),
    ]
    for what, body, reseller_after, customer_after in steps:
        response = tree.client.post(
            url(tree.customer_a, what), json=body, headers=tree.auth(tree.key_a)
        )
        assert response.status_code == 201, response.text
        assert Decimal(response.json()["balance_after"]) == Decimal(customer_after)
        assert ledger.balance(tree.reseller_a).balance == Decimal(reseller_after)
    assert system_entries(tree) == operator_entries
    assert ledger.verify() == []


def test_a_reseller_cannot_give_more_than_it_has(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.reseller_a, Decimal("10"), actor="test")
    before = snapshot(tree.container)
    for what in ("adjustments", "refunds"):
        response = tree.client.post(
            url(tree.customer_a, what),
            json={"amount": "10.01", "reason": "too generous"},
            headers=tree.auth(tree.key_a),
        )
        assert response.status_code == 402, response.text
        assert response.json()["code"] == "insufficient_funds"
    assert snapshot(tree.container) == before


def test_the_operator_still_adjusts_from_its_own_books(tree: Tree) -> None:
    response = tree.client.post(
        url(tree.customer_a, "adjustments"),
        json={"amount": "12.00", "reason": "goodwill"},
        headers=tree.auth(tree.admin),
    )
    assert response.status_code == 201, response.text
    assert tree.container.ledger.balance(tree.customer_a).balance == Decimal("12")
    assert tree.container.ledger.balance(tree.reseller_a).balance == Decimal("0")
    assert tree.container.ledger.verify() == []


def test_an_adjustment_on_an_account_sharing_the_callers_balance_is_refused(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.customer_a, Decimal("5"), actor="test")
    before = snapshot(tree.container)
    response = tree.client.post(
        url(tree.user_a, "adjustments"),
        json={"amount": "1", "reason": "a no-op"},
        headers=tree.auth(tree.key_customer_a),
    )
    assert response.status_code == 422, response.text
    assert snapshot(tree.container) == before
