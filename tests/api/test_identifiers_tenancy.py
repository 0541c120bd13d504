"""Identifiers and calling cards over real HTTP (issue 10, findings 4 and 5).

* another tenant's card answers exactly like an unknown card, and its PIN is never
  checked: no PIN oracle across tenants;
* wrong PINs from a key are counted: the card locks, even for the right PIN;
* identifiers are listed and deleted within the key's subtree only;
* another operator registering the same values learns nothing and changes nothing;
* catch-all networks are 422 ``network_not_allowed``.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from api_tree import Tree
from sqlalchemy import select

from voxbill.domain.access import Principal, Role
from voxbill.storage.schema import outbox_events, pin_asker_counters

CARD, RIGHT, WRONG = "40001234", "4321", "0000"
UK = "+442079460000"


class CountedChecks:
    def __init__(self, tree: Tree) -> None:
        pins = tree.container.identifiers.pins
        self._real = pins.matches
        self._lock = threading.Lock()
        self.calls = 0
        pins.matches = self

    def __call__(self, pin_hash: str, pin: str) -> bool:
        with self._lock:
            self.calls += 1
        return self._real(pin_hash, pin)


def _system(tree: Tree) -> Principal:
    return Principal(tree.root, f"/{tree.root}/", Role.ADMIN)


def _card_of_a(tree: Tree) -> int:
    """A funded calling card below customer A1 (reseller A's subtree)."""
    system = _system(tree)
    fields = {"kind": "card", "name": "K", "parent_id": tree.customer_a, "rate_plan": "a-retail"}
    card = tree.container.accounts.create(system, fields).id
    for funded in (tree.reseller_a, tree.customer_a, card):
        tree.container.ledger.top_up(funded, Decimal("5"), actor="test")
    response = tree.client.post(
        f"/api/v1/accounts/{card}/identifiers",
        json={"type": "card", "value": CARD, "pin": RIGHT},
        headers=tree.auth(tree.admin),
    )
    assert response.status_code == 201, response.text
    return card


def _call(tree: Tree, key: str, caller: dict[str, str], path: str = "/calls/authorize") -> Any:
    body: dict[str, Any] = {"caller": caller, "callee": UK}
    if path == "/calls":
        body["session_id"] = f"s-{caller.get('pin')}-{caller.get('card')}"
    response = tree.client.post(f"/api/v1{path}", json=body, headers=tree.auth(key))
    return response.status_code, response.json()


def test_another_tenants_card_answers_exactly_like_an_unknown_card(tree: Tree) -> None:
    _card_of_a(tree)
    checks = CountedChecks(tree)
    for path in ("/calls/authorize", "/calls"):
        unknown = _call(tree, tree.key_b, {"card": "49999999", "pin": RIGHT}, path)
        assert unknown[1]["reason"] == "unknown_caller"
        for pin in (RIGHT, WRONG, "1234"):  # before the fix: 404 for the right one
            assert _call(tree, tree.key_b, {"card": CARD, "pin": pin}, path) == unknown
    assert checks.calls == 0  # tenancy first: no PIN was ever verified for key B
    # its own tenant is told a wrong PIN apart (the switch prompts again)
    status, body = _call(tree, tree.key_a, {"card": CARD, "pin": WRONG})
    assert (status, body["allowed"], body["reason"]) == (200, False, "invalid_pin")
    status, body = _call(tree, tree.key_a, {"card": CARD, "pin": RIGHT})
    assert (status, body["allowed"], body["reason"]) == (200, True, None)
    assert checks.calls == 2


def test_a_keys_wrong_pins_lock_the_card_for_the_right_one_too(tree: Tree) -> None:
    card = _card_of_a(tree)
    for _ in range(5):
        status, body = _call(tree, tree.key_a, {"card": CARD, "pin": WRONG})
        assert body["reason"] == "invalid_pin"
    status, body = _call(tree, tree.key_a, {"card": CARD, "pin": RIGHT})
    assert (status, body["allowed"], body["reason"]) == (200, False, "card_locked")
    status, body = _call(tree, tree.admin, {"card": CARD, "pin": RIGHT}, "/calls")
    assert (status, body["code"], body["reason"]) == (403, "card_locked", "card_locked")
    assert tree.container.ledger.holds(f"s-{RIGHT}-{CARD}") == []
    with tree.container.db.transaction(readonly=True) as conn:
        askers = conn.execute(select(pin_asker_counters)).all()
        (event,) = conn.execute(
            select(outbox_events).where(outbox_events.c.topic == "card.pin_locked")
        ).all()
    counted = [(a.asker, a.failures) for a in askers if a.failures]  # the admin's: none
    assert counted == [(f"key:{tree.key_a_id}", 5)]
    assert event.account_id == card  # the card's owner is told


def test_identifiers_are_listed_and_deleted_within_the_keys_subtree(tree: Tree) -> None:
    created = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/identifiers",
        json={"type": "ani", "value": "+441000000001"},
        headers=tree.auth(tree.key_a),
    )
    assert created.status_code == 201
    identifier = created.json()["id"]
    listed = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/identifiers", headers=tree.auth(tree.support_a)
    )
    assert [i["id"] for i in listed.json()] == [tree.identifier_a, identifier]

    def delete(key: str, which: int = identifier) -> Any:
        return tree.client.delete(f"/api/v1/identifiers/{which}", headers=tree.auth(key))

    missing = delete(tree.key_b, 999_999)
    assert missing.status_code == 404
    # another tenant's identifier does not exist for key B: the same answer as none
    assert (delete(tree.key_b).status_code, delete(tree.key_b).json()) == (404, missing.json())
    assert delete(tree.key_user_a).status_code == 404  # not in the user's subtree
    refused = delete(tree.support_a)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert delete(tree.key_a).status_code == 204
    assert delete(tree.key_a).status_code == 404
    status, body = _call(tree, tree.key_a, {"ani": "+441000000001"})
    assert body["reason"] == "unknown_caller"
    listed = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/identifiers", headers=tree.auth(tree.key_a)
    )
    assert [i["id"] for i in listed.json()] == [tree.identifier_a]


def test_another_operator_registering_the_same_values_learns_and_breaks_nothing(
    tree: Tree,
) -> None:
    """Operator B squats A1's ANI and SIP user: B's registrations succeed like any
    other, A's key still identifies A1, and B's key its own account."""
    admin = tree.auth(tree.admin)
    for value in ({"type": "ani", "value": "+441000000001"}, {"type": "sip_user", "value": "a1"}):
        url = f"/api/v1/accounts/{tree.customer_a}/identifiers"
        assert tree.client.post(url, json=value, headers=admin).status_code == 201
    rival_root, _ = tree.container.accounts.ensure_operator("Rival", "USD")
    rival_key = tree.container.auth.issue_system(rival_root.id, Role.ADMIN).secret
    rival = tree.auth(rival_key)
    created = tree.client.post(
        "/api/v1/accounts", json={"kind": "customer", "name": "Squat"}, headers=rival
    )
    squat = created.json()["id"]
    for value in ({"type": "ani", "value": "+441000000001"}, {"type": "sip_user", "value": "a1"}):
        response = tree.client.post(
            f"/api/v1/accounts/{squat}/identifiers", json=value, headers=rival
        )
        assert response.status_code == 201, response.text
    for caller in ({"ani": "+441000000001"}, {"sip_user": "a1"}):
        assert _call(tree, tree.key_a, caller)[1]["account_id"] == tree.customer_a
        assert _call(tree, tree.admin, caller)[1]["account_id"] == tree.customer_a
        assert _call(tree, rival_key, caller)[1]["account_id"] == squat
    # and B's key cannot list or delete A's
    ids = tree.client.get(f"/api/v1/accounts/{tree.customer_a}/identifiers", headers=admin)
    for identifier in ids.json():
        gone = tree.client.delete(f"/api/v1/identifiers/{identifier['id']}", headers=rival)
        assert gone.status_code == 404
    listed = tree.client.get(f"/api/v1/accounts/{tree.customer_a}/identifiers", headers=rival)
    assert listed.status_code == 404


def test_a_duplicate_within_the_operator_names_nobody(tree: Tree) -> None:
    url = "/api/v1/accounts/{}/identifiers"
    value = {"type": "ani", "value": "+441000000001"}
    first = tree.client.post(url.format(tree.customer_a), json=value, headers=tree.auth(tree.key_a))
    assert first.status_code == 201
    again = tree.client.post(url.format(tree.customer_b), json=value, headers=tree.auth(tree.key_b))
    assert again.status_code == 409
    assert again.json()["detail"] == "ani 441000000001 already identifies a caller"


@pytest.mark.parametrize("value", ["0.0.0.0/0", "::/0", "10.0.0.0/7", "127.0.0.1", "224.0.0.5"])
def test_catch_all_networks_are_422(tree: Tree, value: str) -> None:
    response = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/identifiers",
        json={"type": "ip", "value": value},
        headers=tree.auth(tree.key_a),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "network_not_allowed"
