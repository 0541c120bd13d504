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


def test_an_operator_sets_its_own_default_for_shared_balances(tree: Tree) -> None:
    """The operator's ``shared_balance_call_cap`` replaces the server's setting for its
    calls; only its admin sets it, only on the operator account; 0 turns it off."""

    def patch(account: int, key: str, **fields: Any) -> Any:
        url = f"/api/v1/accounts/{account}"
        return tree.client.patch(url, json=fields, headers=tree.auth(key))

    own = patch(tree.root, tree.admin, shared_balance_call_cap=900)
    assert own.status_code == 200, own.text
    assert own.json()["shared_balance_call_cap"] == 900
    assert _cap(_account(tree, tree.user_a)) == (900, "shared_balance_default", tree.root)
    # an account with its own balance is not held to it
    assert _cap(_account(tree, tree.customer_a)) == (14400, "system", None)

    # not below the operator, and not by a reseller or support key
    below = patch(tree.customer_a, tree.admin, shared_balance_call_cap=60)
    assert below.status_code == 422, below.text
    assert below.headers["content-type"].startswith("application/problem+json")
    assert patch(tree.root, tree.support_root, shared_balance_call_cap=60).status_code == 403
    assert patch(tree.root, tree.key_a, shared_balance_call_cap=60).status_code == 404
    assert patch(tree.root, tree.admin, shared_balance_call_cap=-1).status_code == 422
    # still self-limited: the operator cannot change its own status or balance settings
    assert patch(tree.root, tree.admin, max_call_duration=60).status_code == 403

    tree.container.ledger.top_up(tree.customer_a, Decimal("10"), actor="test")
    body = {"caller": {"account_id": tree.user_a}, "callee": UK, "session_id": "op-1"}
    started = tree.client.post("/api/v1/calls", json=body, headers=tree.auth(tree.admin))
    assert started.status_code == 201, started.text
    assert started.json()["granted_seconds"] == 900

    off = patch(tree.root, tree.admin, shared_balance_call_cap=0)
    assert off.status_code == 200, off.text
    assert _cap(_account(tree, tree.user_a)) == (14400, "system", None)
