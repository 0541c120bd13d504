"""The fraud guard over REST: the account settings (set by the parent, shown, validated),
/api/v1/high-risk-destinations for every role and operator, and the refusals
`spend_cap` and `high_risk_destination` of the call endpoints (``api_tree``: customer A1
under reseller A, plan 0.10/min to the UK)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api_tree import Tree, snapshot

from voxbill.domain.access import Role

URL = "/api/v1/high-risk-destinations"
UK = "+442079460000"
RISKY = "+447012345678"


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


def _patch(tree: Tree, account: int, body: dict[str, Any], key: str | None = None) -> Any:
    return tree.client.patch(
        f"/api/v1/accounts/{account}", json=body, headers=tree.auth(key or tree.admin)
    )


def test_the_account_settings(tree: Tree) -> None:
    created = tree.client.post(
        "/api/v1/accounts",
        json={
            "kind": "customer",
            "name": "Capped",
            "parent_id": tree.reseller_a,
            "hourly_spend_cap": "1.50",
            "daily_spend_cap": "10",
            "high_risk_allowed": True,
            "high_risk_daily_cap": "2",
        },
        headers=tree.auth(tree.key_a),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    shown = {k: body[k] for k in ("hourly_spend_cap", "daily_spend_cap", "high_risk_daily_cap")}
    assert shown == {
        "hourly_spend_cap": "1.50",
        "daily_spend_cap": "10.00",
        "high_risk_daily_cap": "2.00",
    }
    assert body["high_risk_allowed"] is True
    account = body["id"]
    cleared = _patch(tree, account, {"hourly_spend_cap": None}, tree.key_a)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["hourly_spend_cap"] is None
    fresh = tree.client.get(f"/api/v1/accounts/{tree.customer_a}", headers=tree.auth(tree.admin))
    assert fresh.json()["high_risk_allowed"] is False
    assert fresh.json()["daily_spend_cap"] is None
    before = snapshot(tree.container)
    _problem(_patch(tree, account, {"daily_spend_cap": "-1"}), 422, "invalid_input")
    _problem(_patch(tree, account, {"high_risk_allowed": None}), 422, "invalid_input")
    _problem(_patch(tree, account, {"hourly_spend_cap": "0.000000001"}), 422, "invalid_input")
    # the account itself cannot lift its caps; another reseller does not see it
    key = tree.container.auth.issue_system(account, Role.CUSTOMER).secret
    _problem(_patch(tree, account, {"daily_spend_cap": None}, key), 403, "forbidden")
    _problem(_patch(tree, account, {"timezone": "Pacific/Kiritimati"}, key), 403, "forbidden")
    _problem(_patch(tree, account, {"daily_spend_cap": None}, tree.key_b), 404, "not_found")
    _problem(_patch(tree, account, {"daily_spend_cap": None}, tree.support_a), 403, "forbidden")
    after = snapshot(tree.container)
    after.pop("api_keys")
    before.pop("api_keys")
    assert after == before
    assert _patch(tree, account, {"name": "Renamed"}, key).status_code == 200


def _add(tree: Tree, key: str, *prefixes: str) -> Any:
    return tree.client.post(URL, json={"prefixes": list(prefixes)}, headers=tree.auth(key))


def test_high_risk_destinations_for_every_role(tree: Tree) -> None:
    added = _add(tree, tree.admin, "+4470", "882", "4470")
    assert added.status_code == 201, added.text
    assert [p["prefix"] for p in added.json()["items"]] == ["4470", "882"]
    assert _add(tree, tree.admin, "882").json()["items"] == []  # listed already
    readers = {
        "admin": tree.admin,
        "operator support": tree.support_root,
        "reseller": tree.key_a,
        "reseller support": tree.support_a,
        "other reseller": tree.key_b,
    }
    for who, key in readers.items():
        listed = tree.client.get(URL, headers=tree.auth(key))
        assert listed.status_code == 200, who
        assert [p["prefix"] for p in listed.json()["items"]] == ["4470", "882"], who
    for key in (tree.key_customer_a, tree.key_user_a):
        _problem(tree.client.get(URL, headers=tree.auth(key)), 403, "forbidden")
    before = snapshot(tree.container)
    changers = {**readers, "customer": tree.key_customer_a, "user": tree.key_user_a}
    del changers["admin"]
    for key in changers.values():
        _problem(_add(tree, key, "999"), 403, "forbidden")
        _problem(tree.client.delete(f"{URL}/882", headers=tree.auth(key)), 403, "forbidden")
    _problem(_add(tree, tree.admin, "12a"), 422, "invalid_input")
    _problem(_add(tree, tree.admin, "1234567890123456"), 422, "invalid_input")
    _problem(
        tree.client.post(URL, json={"prefixes": []}, headers=tree.auth(tree.admin)),
        422,
        "invalid_input",
    )
    assert snapshot(tree.container) == before
    # another operator has a list of its own
    other, _ = tree.container.accounts.ensure_operator("Globex", "EUR")
    other_key = tree.container.auth.issue_system(other.id, Role.ADMIN).secret
    assert tree.client.get(URL, headers=tree.auth(other_key)).json()["items"] == []
    _problem(tree.client.delete(f"{URL}/882", headers=tree.auth(other_key)), 404, "not_found")
    removed = tree.client.delete(f"{URL}/882", headers=tree.auth(tree.admin))
    assert removed.status_code == 204, removed.text
    _problem(tree.client.delete(f"{URL}/882", headers=tree.auth(tree.admin)), 404, "not_found")
    listed = tree.client.get(URL, headers=tree.auth(tree.admin)).json()["items"]
    assert [p["prefix"] for p in listed] == ["4470"]


def test_the_call_endpoints_refuse(tree: Tree) -> None:
    tree.container.ledger.top_up(tree.customer_a, Decimal("10"), actor="test")
    caller = {"account_id": tree.customer_a}

    def authorize(number: str) -> dict[str, Any]:
        body = {"caller": caller, "callee": number}
        answer = tree.client.post(
            "/api/v1/calls/authorize", json=body, headers=tree.auth(tree.key_a)
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def start(sid: str, number: str) -> Any:
        body = {"caller": caller, "callee": number, "session_id": sid}
        return tree.client.post("/api/v1/calls", json=body, headers=tree.auth(tree.key_a))

    assert _add(tree, tree.admin, "4470").status_code == 201
    assert authorize(RISKY)["reason"] == "high_risk_destination"
    _problem(start("f-1", RISKY), 403, "high_risk_destination")
    assert _patch(tree, tree.customer_a, {"hourly_spend_cap": "0.10"}).status_code == 200
    assert authorize(UK)["max_duration"] == 60  # 0.10 at 0.10/min
    assert _patch(tree, tree.customer_a, {"hourly_spend_cap": "0"}).status_code == 200
    answer = authorize(UK)
    assert (answer["allowed"], answer["reason"]) == (False, "spend_cap")
    _problem(start("f-2", UK), 403, "spend_cap")
