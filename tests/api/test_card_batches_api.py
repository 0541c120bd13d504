"""Calling-card batches over REST (``docs/cards.md``): the PINs once, the export without
them, activation, the holder's view, refusals through ``/calls/authorize``, and tenancy
for every endpoint (``api_tree``: A's batches are invisible to B; support reads only)."""

from __future__ import annotations

from api_tree import Tree

from voxbill.domain import cards as rules


def _create(tree: Tree, key: str, owner: int, count: int = 2, **extra: object) -> dict:  # type: ignore[type-arg]
    body = {"owner_id": owner, "count": count, "face_value": "5.00", **extra}
    answer = tree.client.post("/api/v1/card-batches", json=body, headers=tree.auth(key))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _pins(created: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    rows = created["csv"].splitlines()
    assert rows[0] == "serial,pin,face_value,currency,expiry,valid_days"
    return [(r.split(",")[0], r.split(",")[1]) for r in rows[1:]]


def test_batch_lifecycle_over_rest(tree: Tree) -> None:
    client, admin = tree.client, tree.auth(tree.admin)
    created = _create(tree, tree.admin, tree.customer_a, valid_days=90)
    assert created["funding"] == "operator"
    assert (created["first_serial"], created["size"]) == (rules.serial(1), 2)
    (serial, pin), (second, _) = _pins(created)
    batch = created["id"]
    # inactive: refused after the right PIN, with the reason the switch shows
    ask = {"caller": {"card": serial, "pin": pin}, "callee": "+442079460000"}
    refused = client.post("/api/v1/calls/authorize", json=ask, headers=admin).json()
    assert (refused["allowed"], refused["reason"]) == (False, "card_inactive")

    export = client.get(f"/api/v1/card-batches/{batch}/export", headers=admin)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert pin not in export.text
    assert export.text.splitlines()[1].startswith(f"{serial},inactive,5.00,USD")

    one = client.post(
        f"/api/v1/card-batches/{batch}/activate",
        json={"from_serial": serial, "to_serial": serial},
        headers=admin,
    ).json()
    assert (one["activated"], one["funded"], one["amount"]) == (1, 1, "5.00")
    allowed = client.post("/api/v1/calls/authorize", json=ask, headers=admin).json()
    assert allowed["allowed"] is True
    read = client.get(f"/api/v1/card-batches/{batch}", headers=admin).json()
    assert (read["active"], read["inactive"], read["remaining_value"]) == (1, 1, "5.00")
    rest = client.post(f"/api/v1/card-batches/{batch}/activate", headers=admin).json()
    assert (rest["activated"], rest["funded"]) == (1, 1)
    again = client.post(f"/api/v1/card-batches/{batch}/activate", headers=admin).json()
    assert (again["activated"], again["funded"], again["amount"]) == (0, 0, "0.00")
    off = client.post(
        f"/api/v1/card-batches/{batch}/deactivate",
        json={"from_serial": second},
        headers=admin,
    ).json()
    assert off["deactivated"] == 1

    view = client.post("/api/v1/cards/balance", json={"card": serial, "pin": pin}, headers=admin)
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["state"], body["balance"], body["currency"]) == ("active", "5.00", "USD")
    assert body["expires_at"] is not None
    assert [h["kind"] for h in body["history"]] == ["card_funding"]
    wrong = client.post(
        "/api/v1/cards/balance", json={"card": serial, "pin": "0" * 10}, headers=admin
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "invalid_pin")
    bad = client.post(
        f"/api/v1/card-batches/{batch}/activate", json={"from_serial": "123"}, headers=admin
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert tree.container.ledger.verify() == []


def test_card_batch_tenancy(tree: Tree) -> None:
    client = tree.client
    created = _create(tree, tree.admin, tree.customer_a, count=1)
    ((serial, pin),) = _pins(created)
    batch = created["id"]
    # reseller B, outside A's tree: the batch does not exist for it
    b = tree.auth(tree.key_b)
    assert client.get(f"/api/v1/card-batches/{batch}", headers=b).status_code == 404
    assert client.get(f"/api/v1/card-batches/{batch}/export", headers=b).status_code == 404
    assert client.post(f"/api/v1/card-batches/{batch}/activate", headers=b).status_code == 404
    assert client.post(f"/api/v1/card-batches/{batch}/deactivate", headers=b).status_code == 404
    assert client.get("/api/v1/card-batches", headers=b).json()["items"] == []
    outside = client.post(
        "/api/v1/card-batches",
        json={"owner_id": tree.customer_a, "count": 1, "face_value": "1"},
        headers=b,
    )
    assert outside.status_code == 404
    unknown = client.post("/api/v1/cards/balance", json={"card": serial, "pin": pin}, headers=b)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    # A, the owner's ancestor, and support read; support changes nothing
    for key in (tree.key_a, tree.support_a, tree.support_root):
        listed = client.get("/api/v1/card-batches", headers=tree.auth(key)).json()["items"]
        assert [i["id"] for i in listed] == [batch]
    support = tree.auth(tree.support_a)
    denied = client.post(f"/api/v1/card-batches/{batch}/activate", headers=support)
    assert denied.status_code == 403
    refused = client.post(
        "/api/v1/card-batches",
        json={"owner_id": tree.customer_a, "count": 1, "face_value": "1"},
        headers=support,
    )
    assert refused.status_code == 403
    # the operator's books fund this batch: reseller A cannot activate it
    a = tree.auth(tree.key_a)
    assert client.post(f"/api/v1/card-batches/{batch}/activate", headers=a).status_code == 403
    # A's own cards, paid by its own balance (it has none: 402, nothing activated)
    own = _create(tree, tree.key_a, tree.reseller_a, count=1)
    assert own["funding"] == "owner"
    short = client.post(f"/api/v1/card-batches/{own['id']}/activate", headers=a)
    assert (short.status_code, short.json()["code"]) == (402, "insufficient_funds")
    too_many = client.post(
        "/api/v1/card-batches",
        json={"owner_id": tree.reseller_a, "count": 1_001, "face_value": "1"},
        headers=a,
    )
    assert too_many.status_code == 422
