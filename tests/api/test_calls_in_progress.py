"""PATCH of who pays for an account's calls while a call is up: 409 calls_in_progress,
nothing changed; allowed once the call has ended (both dialects)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from api_tree import Tree, snapshot

from voxbill.services.charging.service import CallerId


def test_unsharing_a_balance_under_a_call_is_409_and_changes_nothing(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.customer_a, Decimal("10"), actor="test")
    charging = tree.container.charging
    now = datetime.now(UTC)
    charging.start("api-u1", CallerId(account_id=tree.user_a), "+442079460000", now)
    before = snapshot(tree.container)
    answer = tree.client.patch(
        f"/api/v1/accounts/{tree.user_a}",
        json={"shared_balance": False},
        headers=tree.auth(tree.admin),
    )
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "calls_in_progress"
    assert snapshot(tree.container) == before
    charging.stop("api-u1", 30)
    answer = tree.client.patch(
        f"/api/v1/accounts/{tree.user_a}",
        json={"shared_balance": False},
        headers=tree.auth(tree.admin),
    )
    assert answer.status_code == 200, answer.text
