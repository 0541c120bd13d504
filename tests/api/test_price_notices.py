"""Issue 13, item 6: a re-import that changes a plan's prices writes one ``price.changed``
event for every account the plan prices and every reseller above them, in the import's
transaction, listing each change with its old and new price and effective date; a
first import or an import that changes nothing tells no one (``api_tree``: customer A1
under reseller A is rated by ``a-retail``; customer B1 under reseller B by ``b-retail``)."""

from __future__ import annotations

import json
from typing import Any

from api_tree import Tree

from voxbill.domain.notify import Channel, Event
from voxbill.services.notify.templates import render
from voxbill.services.rating.price_notices import MOST_LISTED


def _notices(tree: Tree) -> list[tuple[int | None, dict[str, Any], Any]]:
    with tree.container.uow.transaction(readonly=True) as tx:
        events = tx.ledger.outbox()
    return [
        (e.account_id, json.loads(e.payload), e)
        for e in sorted(events, key=lambda e: e.id)
        if e.topic == "price.changed"
    ]


def _upload(tree: Tree, plan: str, deck: str, query: str = "") -> Any:
    answer = tree.client.post(
        f"/api/v1/rate-plans/{plan}/deck{query}",
        content=deck,
        headers={**tree.auth(tree.admin), "content-type": "text/csv"},
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_a_price_change_tells_the_priced_accounts_and_their_resellers(tree: Tree) -> None:
    assert _notices(tree) == []  # the first imports changed nobody's price

    deck = (
        "prefix,rate,destination,effective_from\n"
        "44,0.12,UK,2027-01-01T00:00:00Z\n"
        "33,0.20,France,\n"
        "49,0.30,Germany,\n"
    )
    _upload(tree, "a-retail", deck)
    notices = _notices(tree)
    assert {account for account, _, _ in notices} == {tree.customer_a, tree.reseller_a}
    by_account = {account: data for account, data, _ in notices}
    customer, reseller = by_account[tree.customer_a], by_account[tree.reseller_a]
    assert customer["priced"] == "account"
    assert (reseller["priced"], reseller["accounts_priced"]) == ("subtree", 1)
    assert customer["plan"] == "a-retail"
    assert customer["currency"] == "USD"
    assert customer["counts"] == {"new": 1, "increased": 1}
    changes = {c["prefix"]: c for c in customer["changes"]}
    assert set(changes) == {"44", "49"}  # France kept its price
    assert changes["44"]["change"] == "increased"
    assert (changes["44"]["old_rate"], changes["44"]["new_rate"]) == ("0.1", "0.12")
    assert changes["44"]["effective_from"].startswith("2027-01-01T00:00:00")
    assert (changes["49"]["old_rate"], changes["49"]["new_rate"]) == (None, "0.3")
    assert customer["truncated"] is False

    # what a subscriber reads (the default template)
    _, data, stored = notices[0]
    event = Event(stored.id, "price.changed", stored.account_id, stored.created_at, data)
    subject, text = render(event, Channel.EMAIL, None)
    assert subject == "Price changes in plan a-retail"
    assert "44 UK: 0.1 -> 0.12 USD/min from 2027-01-01T00:00:00" in text

    # the same deck again changes nothing: no new notice; another plan's accounts never hear
    _upload(tree, "a-retail", deck)
    assert len(_notices(tree)) == 2
    assert tree.customer_b not in {account for account, _, _ in _notices(tree)}


def test_a_big_change_lists_the_first_changes_and_counts_them_all(tree: Tree) -> None:
    rows = "".join(f"{4400 + i},0.11,UK {i}\n" for i in range(MOST_LISTED + 5))
    _upload(tree, "a-retail", "prefix,rate,destination\n" + rows)
    (_, data, _), *_ = _notices(tree)
    assert data["changes_total"] == MOST_LISTED + 5
    assert data["truncated"] is True
    assert len(data["changes"]) == MOST_LISTED


def test_a_plan_nobody_is_rated_by_tells_no_one(tree: Tree) -> None:
    _upload(tree, "spare", "prefix,rate,destination\n44,0.10,UK\n", "?currency=USD")
    _upload(tree, "spare", "prefix,rate,destination\n44,0.50,UK\n")
    assert _notices(tree) == []
