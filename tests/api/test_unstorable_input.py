"""Input the database cannot store is a 422 that changes nothing, never a 500.

Amounts: SQLite keeps a 64-bit integer of 10^-8 units (±92,233,720,368.54775807),
PostgreSQL NUMERIC(28, 8); beyond that, ``amount_out_of_range``. Text: NUL is refused
everywhere (PostgreSQL cannot store it), control characters in rate deck cells too.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from api_tree import Tree, snapshot
from sqlalchemy.exc import DataError

from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Billing
from voxbill.domain.errors import InvalidMoney
from voxbill.storage.types import max_amount

UNIT = Decimal("0.00000001")


def url(account: int, what: str) -> str:
    return f"/api/v1/accounts/{account}/{what}"


def limit(tree: Tree) -> Decimal:
    return max_amount(tree.container.db.dialect)


def test_a_movement_beyond_the_storable_range_is_refused(tree: Tree) -> None:
    ledger = tree.container.ledger
    with pytest.raises(InvalidMoney) as too_big:
        ledger.top_up(tree.customer_a, limit(tree) + UNIT, actor="test")
    assert too_big.value.code == "amount_out_of_range"
    ledger.top_up(tree.customer_a, limit(tree), actor="test")
    with pytest.raises(InvalidMoney) as overflow:  # the balance would leave the range
        ledger.top_up(tree.customer_a, UNIT, actor="test")
    assert overflow.value.code == "amount_out_of_range"
    assert ledger.balance(tree.customer_a).balance == limit(tree)
    assert ledger.verify() == []


def test_a_stored_setting_beyond_the_range_is_refused(tree: Tree) -> None:
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    changes = {"billing": Billing.POSTPAID, "credit_limit": limit(tree) + UNIT}
    with pytest.raises(InvalidMoney) as caught:
        tree.container.accounts.patch(system, tree.customer_a, changes)
    assert caught.value.code == "amount_out_of_range"


def test_big_amounts_through_http_answer_422_or_201(tree: Tree) -> None:
    sqlite = tree.container.db.dialect == "sqlite"
    admin = tree.auth(tree.admin)
    requests = [
        ("topups", "post", {"amount": "100000000000"}),
        ("", "patch", {"billing": "postpaid", "credit_limit": "1000000000000"}),
    ]
    for what, method, body in requests:
        before = snapshot(tree.container)
        target = url(tree.customer_a, what).rstrip("/")
        response = getattr(tree.client, method)(target, json=body, headers=admin)
        if sqlite:
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "amount_out_of_range"
            assert snapshot(tree.container) == before
        else:
            assert response.status_code in (200, 201), response.text
    twice = {"amount": "90000000000"}
    first = tree.client.post(url(tree.customer_b, "topups"), json=twice, headers=admin)
    second = tree.client.post(url(tree.customer_b, "topups"), json=twice, headers=admin)
    assert first.status_code == 201, first.text
    assert second.status_code == (422 if sqlite else 201), second.text
    assert tree.container.ledger.verify() == []


def test_nul_is_refused_in_every_request_string(tree: Tree) -> None:
    admin = tree.auth(tree.admin)
    before = snapshot(tree.container)
    attempts = [
        (
            "post",
            "/api/v1/accounts",
            {"json": {"name": "Bad\x00Co", "parent_id": tree.root, "kind": "reseller"}},
        ),
        ("patch", url(tree.customer_a, "").rstrip("/"), {"json": {"name": "x\x00"}}),
        (
            "post",
            url(tree.customer_a, "identifiers"),
            {"json": {"type": "sip_user", "value": "al\x00ice"}},
        ),
        (
            "post",
            url(tree.customer_a, "adjustments"),
            {"json": {"amount": "1", "reason": "why\x00"}},
        ),
        ("get", "/api/v1/cdrs?account_id=1&x=%00", {}),
    ]
    for method, target, extra in attempts:
        response = getattr(tree.client, method)(target, headers=admin, **extra)
        assert response.status_code == 422, (target, response.text)
        assert response.json()["code"] in ("invalid_input", "invalid_number"), response.text
    assert snapshot(tree.container) == before
    escaped = tree.client.post(  # an escaped backslash then "u0000" is plain text
        "/api/v1/accounts",
        content=b'{"name": "back\\\\u0000slash", "parent_id": %d, "kind": "reseller"}' % tree.root,
        headers={**admin, "content-type": "application/json"},
    )
    assert escaped.status_code == 201, escaped.text
    assert escaped.json()["name"] == "back\\u0000slash"


def test_control_characters_in_a_deck_cell_name_the_line(tree: Tree) -> None:
    before = snapshot(tree.container)
    for cell in ("Germ\x00any", "Germ\x07any"):
        deck = f"prefix,rate,destination\n44,0.10,UK\n49,0.05,{cell}\n"
        response = tree.client.post(
            "/api/v1/rate-plans/de/deck?currency=USD",
            content=deck.encode(),
            headers={**tree.auth(tree.admin), "content-type": "text/csv"},
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "invalid_rate_deck"
        assert problem["errors"][0]["line"] == 3
        assert "control character" in problem["errors"][0]["message"]
    assert snapshot(tree.container) == before


@pytest.mark.parametrize(
    "error", [DataError("INSERT", {}, Exception("bad")), OverflowError("too large")]
)
def test_a_value_the_database_refuses_is_a_422(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        # the database's refusal arrives inside a transaction, where storage translates it
        with tree.container.db.transaction(readonly=True):
            raise error

    monkeypatch.setattr(tree.container.accounts, "visible", refuse)
    response = tree.client.get(url(tree.customer_a, "balance"), headers=tree.auth(tree.admin))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
