"""Rate plans between operators over HTTP (issue 10, finding 2).

Operator Acme (the ``api_tree``: plans a-retail and b-retail) and operator Globex, each
with its own admin key. A plan is named within its operator: Globex's keys, whatever
their role, get 404 on Acme's plans for show, changes and quote, cannot assign them
(refused exactly as a name no plan has), and an upload under the same name creates
Globex's own plan, never touching Acme's. Both plans of one name are then priced
separately. Every other endpoint aimed at Acme's objects answers Globex's admin 404 too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_tree import Tree, snapshot
from test_accounts_tenancy import (  # noqa: F401 (the samples' fixtures)
    _card_batch,
    _notification,
    endpoints,
    sample,
)

from voxbill.domain.access import Principal, Role

GLOBEX_DECK = "prefix,rate,destination\n44,0.50,UK\n"
QUOTE = {"plan": "a-retail", "to": "+44 20 7946 0958", "duration": 60}


@dataclass
class Globex:
    root: int
    admin: str
    reseller: int
    reseller_key: str


@pytest.fixture
def globex(tree: Tree) -> Globex:
    container = tree.container
    root, _ = container.accounts.ensure_operator("Globex", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    reseller = container.accounts.create(
        system, {"kind": "reseller", "name": "Globex Reseller", "parent_id": root.id}
    ).id
    return Globex(
        root=root.id,
        admin=container.auth.issue_system(root.id, Role.ADMIN).secret,
        reseller=reseller,
        reseller_key=container.auth.issue(system, reseller, Role.RESELLER).secret,
    )


def _upload(tree: Tree, key: str, name: str, deck: str, query: str = "") -> Any:
    return tree.client.post(
        f"/api/v1/rate-plans/{name}/deck{query}",
        content=deck,
        headers={**tree.auth(key), "content-type": "text/csv"},
    )


def _names(tree: Tree, key: str) -> list[str]:
    response = tree.client.get("/api/v1/rate-plans", headers=tree.auth(key))
    assert response.status_code == 200, response.text
    return [plan["name"] for plan in response.json()["items"]]


def _same_refusal(first: Any, second: Any, name: str, other: str) -> None:
    """Two answers that differ only by the plan name they echo: nothing tells them apart."""
    assert first.status_code == second.status_code, (first.text, second.text)
    one, two = first.json(), second.json()
    assert one["code"] == two["code"]
    assert one["detail"].replace(name, other) == two["detail"]


def test_another_operators_keys_neither_see_nor_read_these_plans(
    tree: Tree, globex: Globex
) -> None:
    before = snapshot(tree.container)
    for key in (globex.admin, globex.reseller_key):
        assert _names(tree, key) == []
        for url in ("/api/v1/rate-plans/a-retail", "/api/v1/rate-plans/a-retail/changes"):
            hidden = tree.client.get(url, headers=tree.auth(key))
            never = tree.client.get(url.replace("a-retail", "zz-never"), headers=tree.auth(key))
            assert hidden.status_code == 404, hidden.text
            assert hidden.json()["code"] == "unknown_rate_plan"
            _same_refusal(hidden, never, "a-retail", "zz-never")
        quoted = tree.client.post("/api/v1/quote", json=QUOTE, headers=tree.auth(key))
        never = tree.client.post(
            "/api/v1/quote", json={**QUOTE, "plan": "zz-never"}, headers=tree.auth(key)
        )
        assert quoted.status_code == 404, quoted.text
        _same_refusal(quoted, never, "a-retail", "zz-never")
    assert snapshot(tree.container) == before


def test_another_operator_cannot_upload_into_these_plans(tree: Tree, globex: Globex) -> None:
    before = snapshot(tree.container)
    # the admin, and a reseller (which makes its own plans): the name is a new plan of
    # the key's own operator, which needs a currency
    for key in (globex.admin, globex.reseller_key):
        for replace in ("", "?replace=true"):
            merged = _upload(tree, key, "a-retail", GLOBEX_DECK, replace)
            never = _upload(tree, key, "zz-never", GLOBEX_DECK, replace)
            assert merged.status_code == 422, merged.text
            assert "is new: give its currency" in merged.json()["detail"]
            _same_refusal(merged, never, "a-retail", "zz-never")
    assert snapshot(tree.container) == before


def test_both_operators_price_their_own_plan_of_the_same_name(tree: Tree, globex: Globex) -> None:
    created = _upload(tree, globex.admin, "a-retail", GLOBEX_DECK, "?currency=USD")
    assert created.status_code == 201, created.text
    assert (created.json()["plan"], created.json()["changes"]) == ("a-retail", {"new": 1})
    assert _names(tree, globex.admin) == ["a-retail"]
    assert _names(tree, tree.admin) == ["a-retail", "b-retail"]

    def show(key: str) -> dict[str, Any]:
        response = tree.client.get("/api/v1/rate-plans/a-retail", headers=tree.auth(key))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    acme, mine = show(tree.admin), show(globex.admin)
    assert (acme["operator_id"], acme["rows"]) == (tree.root, 2)
    assert (mine["operator_id"], mine["rows"]) == (globex.root, 1)
    assert [r["rate"] for r in mine["rates"]] == ["0.50"]

    def cost(key: str) -> str:
        response = tree.client.post("/api/v1/quote", json=QUOTE, headers=tree.auth(key))
        assert response.status_code == 200, response.text
        return str(response.json()["cost"])

    for _ in range(2):  # either order, from the cache too
        assert cost(tree.admin) == "0.1000"
        assert cost(tree.key_customer_a) == "0.1000"
        assert cost(globex.admin) == "0.5000"
    # a replace of Globex's plan leaves Acme's rows and price as they were
    again = _upload(tree, globex.admin, "a-retail", "prefix,rate\n44,0.70\n", "?replace=true")
    assert again.status_code == 201, again.text
    assert (cost(globex.admin), cost(tree.admin)) == ("0.7000", "0.1000")
    acme_changes = tree.client.get(
        "/api/v1/rate-plans/a-retail/changes", headers=tree.auth(tree.admin)
    ).json()["items"]
    assert [(c["prefix"], c["change"]) for c in acme_changes] == [("33", "new"), ("44", "new")]
    mine_changes = tree.client.get(
        "/api/v1/rate-plans/a-retail/changes", headers=tree.auth(globex.admin)
    ).json()["items"]
    assert [(c["prefix"], c["change"], c["old_rate"], c["new_rate"]) for c in mine_changes] == [
        ("44", "new", None, "0.50"),
        ("44", "increased", "0.50", "0.70"),
    ]


def test_assigning_another_operators_plan_is_refused_as_a_name_no_plan_has(
    tree: Tree, globex: Globex
) -> None:
    before = snapshot(tree.container)
    headers = tree.auth(globex.admin)

    def create(plan: str) -> Any:
        body = {"kind": "customer", "name": "C", "parent_id": globex.reseller, "rate_plan": plan}
        return tree.client.post("/api/v1/accounts", json=body, headers=headers)

    def patch(field: str, plan: str) -> Any:
        url = f"/api/v1/accounts/{globex.reseller}"
        return tree.client.patch(url, json={field: plan}, headers=headers)

    hidden, never = create("a-retail"), create("zz-never")
    assert hidden.status_code == 422, hidden.text
    _same_refusal(hidden, never, "a-retail", "zz-never")
    for field in ("rate_plan", "sms_plan"):
        _same_refusal(patch(field, "a-retail"), patch(field, "zz-never"), "a-retail", "zz-never")
    assert snapshot(tree.container) == before
    # once Globex has its own plan of that name, it assigns that one
    assert _upload(tree, globex.admin, "a-retail", GLOBEX_DECK, "?currency=USD").status_code == 201
    assigned = patch("rate_plan", "a-retail")
    assert assigned.status_code == 200, assigned.text
    reseller_view = tree.client.get(
        "/api/v1/rate-plans/a-retail", headers=tree.auth(globex.reseller_key)
    )
    assert [r["rate"] for r in reseller_view.json()["rates"]] == ["0.50"]


def test_every_endpoint_aimed_at_another_operator_answers_404(tree: Tree, globex: Globex) -> None:
    """The tenancy matrix, with the other operator's admin key: nothing of Acme's is
    reached. Collections are filtered; operator-wide writes (an exchange rate) and a
    deck upload write the key's own operator's, never Acme's."""
    before = snapshot(tree.container)
    own_writes = {
        "/api/v1/fx-rates",
        "/api/v1/rate-plans/{name}/deck",
        "/api/v1/high-risk-destinations",
    }
    for method, path in endpoints(tree):
        url, kwargs = sample(tree, method, path)
        headers = {**kwargs.pop("headers", {}), **tree.auth(globex.admin)}
        response = tree.client.request(method, url, headers=headers, **kwargs)
        if method == "GET" and "{" not in path:
            assert response.status_code == 200, (path, response.text)
            assert "a-retail" not in response.text
            assert "Reseller A" not in response.text
            continue
        if path in own_writes:
            assert response.status_code in (201, 422), (method, path, response.text)
            continue
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] in ("not_found", "unknown_rate_plan")
    after = snapshot(tree.container)
    for table in ("accounts", "rates", "rate_changes", "rate_imports", "ledger_entries"):
        assert after[table] == before[table], table
    assert [r for r in after["rate_plans"] if r[1] == tree.root] == [
        r for r in before["rate_plans"] if r[1] == tree.root
    ]
