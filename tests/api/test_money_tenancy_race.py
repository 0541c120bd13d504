"""Tenancy is re-checked inside the money transaction: a move committed between the
router's check and the ledger's work is seen, and nothing moves."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from api_tree import Tree

from voxbill.domain.access import Principal, Role


def url(account: int, what: str) -> str:
    return f"/api/v1/accounts/{account}/{what}"


def moved_first(tree: Tree, account: int, new_parent: int, operation: Callable[..., Any]) -> Any:
    """``operation``, run just after an operator moves ``account`` under ``new_parent``."""
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)

    def racing(*args: Any, **kwargs: Any) -> Any:
        tree.container.accounts.patch(system, account, {"parent_id": new_parent})
        return operation(*args, **kwargs)

    return racing


@pytest.mark.parametrize("what", ["transfers", "adjustments", "refunds"])
def test_a_move_between_check_and_money_is_seen(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    ledger = tree.container.ledger
    ledger.top_up(tree.reseller_a, Decimal("50"), actor="test")
    operation = {"transfers": "transfer", "adjustments": "adjust", "refunds": "refund"}[what]
    original = getattr(ledger, operation)
    monkeypatch.setattr(
        ledger, operation, moved_first(tree, tree.customer_a, tree.reseller_b, original)
    )
    if what == "transfers":
        target, body = tree.reseller_a, {"to_account_id": tree.customer_a, "amount": "5"}
    else:
        target, body = tree.customer_a, {"amount": "5", "reason": "race"}
    response = tree.client.post(url(target, what), json=body, headers=tree.auth(tree.key_a))
    assert response.status_code in (403, 404), response.text
    assert ledger.balance(tree.reseller_a).balance == Decimal("50")
    assert ledger.balance(tree.customer_a).balance == Decimal("0")
    assert ledger.verify() == []
