"""Issue 10, finding 7, over HTTP: card authorizes flooding in from one key never delay
another tenant's call. Shown structurally, not by timing: while the key's PIN checks
are held in flight, its further card calls are refused ``pin_busy`` at once (they
return while the held ones are still held) and a call without a card by reseller B is
answered meanwhile."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from api_tree import Tree

from voxbill.domain.access import Principal, Role
from voxbill.services.access.identifiers import IdentifierType

CARD, PIN = "40001234", "4321"
UK = "+442079460000"
DEADLINE_SECONDS = 60.0


def _authorize(tree: Tree, key: str, caller: Any, status: int = 200) -> Any:
    response = tree.client.post(
        "/api/v1/calls/authorize", json={"caller": caller, "callee": UK}, headers=tree.auth(key)
    )
    assert response.status_code == status, response.text
    return response.json()


def test_a_card_flood_from_one_key_never_delays_another_tenants_call(tree: Tree) -> None:
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    container = tree.container
    fields = {"kind": "card", "name": "K", "parent_id": tree.customer_a, "rate_plan": "a-retail"}
    card = container.accounts.create(system, fields).id
    container.identifiers.add(system, card, IdentifierType.CARD, CARD, PIN)
    container.identifiers.add(system, tree.customer_b, IdentifierType.ANI, "+441000000002", None)
    for funded in (tree.reseller_a, tree.customer_a, card, tree.reseller_b, tree.customer_b):
        container.ledger.top_up(funded, Decimal("5"), actor="test")

    pins = container.identifiers.pins
    release = threading.Event()
    real = pins.matches

    def held(pin_hash: str, pin: str) -> bool:
        release.wait(DEADLINE_SECONDS)
        return real(pin_hash, pin)

    pins.matches = held
    pins.capacity.slot_wait_seconds = DEADLINE_SECONDS
    per_key = container.settings.pin_asker_in_flight
    card_caller = {"card": CARD, "pin": PIN}
    with ThreadPoolExecutor(per_key) as pool:
        try:
            flood = [pool.submit(_authorize, tree, tree.key_a, card_caller) for _ in range(per_key)]
            deadline = time.monotonic() + DEADLINE_SECONDS
            while pins.capacity.admitted_now < per_key:
                assert time.monotonic() < deadline, "the card calls never reached the PIN check"
                time.sleep(0.005)
            for _ in range(30):  # the rest of the flood: "retry", without waiting
                busy = _authorize(tree, tree.key_a, card_caller, status=503)
                assert busy["code"] == "pin_busy"
            other = _authorize(tree, tree.key_b, "+441000000002")
            assert (other["allowed"], other["account_id"]) == (True, tree.customer_b)
            assert not release.is_set()
            assert pins.capacity.admitted_now == per_key
        finally:
            release.set()
        answers = [future.result(timeout=DEADLINE_SECONDS) for future in flood]
    assert [(a["allowed"], a["account_id"]) for a in answers] == [(True, card)] * per_key
