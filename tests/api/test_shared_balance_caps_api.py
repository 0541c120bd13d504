"""Issue 12, item 1 through REST: the account answer shows its effective per-call cap and
where it comes from, and a start without interim updates on a shared balance is granted
at most that cap (``api_tree``: user A1u shares customer A1's balance; plan 0.10/min)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api_tree import Tree

UK = "+442079460000"


def _account(tree: Tree, account: int) -> dict[str, Any]:
    answer = tree.client.get(f"/api/v1/accounts/{account}", headers=tree.auth(tree.admin))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _cap(body: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (
        body["effective_max_call_duration"],
        body["effective_max_call_duration_source"],
        body["effective_max_call_duration_account_id"],
    )


def test_the_account_answer_shows_the_effective_cap(tree: Tree) -> None:
    assert _cap(_account(tree, tree.user_a)) == (3600, "shared_balance_default", None)
    assert _cap(_account(tree, tree.customer_a)) == (14400, "system", None)
    # the shared balance's own per-call cap replaces the operator default
    patched = tree.client.patch(
        f"/api/v1/accounts/{tree.customer_a}",
        json={"max_call_duration": 7200},
        headers=tree.auth(tree.admin),
    )
    assert patched.status_code == 200, patched.text
    assert _cap(patched.json()) == (7200, "account", tree.customer_a)
    assert _cap(_account(tree, tree.user_a)) == (7200, "account", tree.customer_a)
    children = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/children", headers=tree.auth(tree.key_a)
    )
    assert children.status_code == 200, children.text
    assert [_cap(c) for c in children.json()["items"]] == [(7200, "account", tree.customer_a)]
    # the user's own key sees it too
    own = tree.client.get(f"/api/v1/accounts/{tree.user_a}", headers=tree.auth(tree.key_user_a))
    assert _cap(own.json()) == (7200, "account", tree.customer_a)


def test_a_start_without_interim_updates_is_granted_at_most_the_cap(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.customer_a, Decimal("10"), actor="test")

    def start(session_id: str, **extra: Any) -> dict[str, Any]:
        body = {"caller": {"account_id": tree.user_a}, "callee": UK, "session_id": session_id}
        answer = tree.client.post("/api/v1/calls", json=body | extra, headers=tree.auth(tree.admin))
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = start("r-1")
    assert (first["granted_seconds"], first["max_duration"]) == (3600, 3600)
    # 10.00 - 6.00 held: an interim session holds one chunk (300 s) of the 4.00 left
    second = start("r-2", interim=True)
    assert (second["granted_seconds"], second["max_duration"]) == (300, 2400)
    view = tree.container.ledger.balance(tree.customer_a)
    assert (view.reserved, view.available) == (Decimal("6.5"), Decimal("3.5"))
