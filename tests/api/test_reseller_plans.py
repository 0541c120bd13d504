"""Resellers make, price and assign their own rate plans (issue 12, item 5).

Operator Acme (the ``api_tree``) gives reseller A the buy plan ``r-buy`` (UK ``44``
0.0500 with a 0.0100 connect fee, UK mobile ``447`` 0.0123, France ``33`` 0.3000).
A copies it with +20 % into its own plan ``a-plus20``, assigns it to its customer A1,
and A1's call is charged at the marked-up price, A keeping the difference. Reseller B,
A's customer and user keys, support keys and another operator never reach A's plan.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_tree import Tree, snapshot

from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

BUY_DECK = (
    "prefix,rate,destination,connect_fee\n"
    "44,0.0500,UK,0.0100\n"
    "447,0.0123,UK mobile,0\n"
    "33,0.3000,France,0\n"
)
UK = "+44 20 7946 0958"
COPY = {"name": "a-plus20", "from_plan": "r-buy", "markup_percent": "20"}


@pytest.fixture
def buy(tree: Tree) -> Tree:
    deck = read_deck(BUY_DECK.splitlines(keepends=True))
    tree.container.rate_import.import_deck(
        deck, operator_id=tree.root, plan="r-buy", source="test", options=PlanOptions("USD")
    )
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    tree.container.accounts.patch(system, tree.reseller_a, {"rate_plan": "r-buy"})
    return tree


def _post(tree: Tree, key: str, body: dict[str, Any]) -> Any:
    return tree.client.post("/api/v1/rate-plans", json=body, headers=tree.auth(key))


def _rates(tree: Tree, key: str, name: str) -> dict[str, tuple[str, str]]:
    response = tree.client.get(f"/api/v1/rate-plans/{name}", headers=tree.auth(key))
    assert response.status_code == 200, response.text
    return {r["prefix"]: (r["rate"], r["connect_fee"]) for r in response.json()["rates"]}


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _assign(tree: Tree, key: str, account: int, plan: str | None) -> Any:
    return tree.client.patch(
        f"/api/v1/accounts/{account}", json={"rate_plan": plan}, headers=tree.auth(key)
    )


def test_a_reseller_copies_its_buy_plan_with_a_markup(buy: Tree) -> None:
    tree = buy
    made = _post(tree, tree.key_a, COPY)
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("name", "from_plan", "owner_account_id", "rows")} == {
        "name": "a-plus20",
        "from_plan": "r-buy",
        "owner_account_id": tree.reseller_a,
        "rows": 3,
    }
    assert (body["currency"], body["decimals"], body["rounding"]) == ("USD", 4, "half_up")
    # exact, then rounded once to the plan's 4 places: 0.0123 x 1.2 = 0.01476 -> 0.0148
    assert _rates(tree, tree.key_a, "a-plus20") == {
        "44": ("0.06", "0.012"),
        "447": ("0.0148", "0.00"),
        "33": ("0.36", "0.00"),
    }
    # its price history starts with every row new
    changes = tree.client.get("/api/v1/rate-plans/a-plus20/changes", headers=tree.auth(tree.key_a))
    assert [c["change"] for c in changes.json()["items"]] == ["new"] * 3
    # A lists it (it prices nothing of A's own); the admin sees whose it is
    listed = tree.client.get("/api/v1/rate-plans", headers=tree.auth(tree.key_a)).json()
    assert [(p["name"], p["effective"]) for p in listed["items"]] == [
        ("a-plus20", False),
        ("a-retail", False),
        ("r-buy", True),
    ]
    everything = tree.client.get("/api/v1/rate-plans", headers=tree.auth(tree.admin)).json()
    owners = {p["name"]: p["owner_account_id"] for p in everything["items"]}
    assert owners == {
        "a-plus20": tree.reseller_a,
        "a-retail": None,
        "b-retail": None,
        "r-buy": None,
    }


def test_a_fixed_markup_another_rounding_and_a_copy_of_a_copy(buy: Tree) -> None:
    tree = buy
    body = {**COPY, "markup_fixed": "0.005", "rounding": "up", "decimals": 3}
    assert _post(tree, tree.key_a, body).status_code == 201
    # 0.05 x 1.2 + 0.005 = 0.065; 0.0123 x 1.2 + 0.005 = 0.01976 (4 places in the source:
    # kept) -> up -> 0.0198; the fee takes the percentage only: 0.012
    assert _rates(tree, tree.key_a, "a-plus20") == {
        "44": ("0.065", "0.012"),
        "447": ("0.0198", "0.00"),
        "33": ("0.365", "0.00"),
    }
    # a plan A owns is copied again, as is
    again = _post(tree, tree.key_a, {"name": "a-same", "from_plan": "a-plus20"})
    assert again.status_code == 201, again.text
    assert _rates(tree, tree.key_a, "a-same") == _rates(tree, tree.key_a, "a-plus20")


def test_the_copy_is_assigned_below_the_reseller_and_shows_its_margin(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    assigned = _assign(tree, tree.key_a, tree.customer_a, "a-plus20")
    assert assigned.status_code == 200, assigned.text
    created = tree.client.post(
        "/api/v1/accounts",
        json={
            "kind": "customer",
            "name": "A2",
            "parent_id": tree.reseller_a,
            "rate_plan": "a-plus20",
        },
        headers=tree.auth(tree.key_a),
    )
    assert created.status_code == 201, created.text
    # its customer's key reads the plan that prices it, and quotes on it
    quote = tree.client.post(
        "/api/v1/quote", json={"to": UK, "duration": 60}, headers=tree.auth(tree.key_customer_a)
    )
    assert (quote.json()["plan"], quote.json()["cost"]) == ("a-plus20", "0.0720")
    margin = tree.client.get("/api/v1/rate-plans/a-plus20/margin", headers=tree.auth(tree.key_a))
    assert margin.status_code == 200, margin.text
    rows = {
        r["prefix"]: (r["margin"], r["connect_fee_margin"], r["below_cost"])
        for r in margin.json()["items"]
    }
    assert margin.json()["buy_plan"] == "r-buy"
    assert rows == {
        "44": ("0.01", "0.002", False),
        "447": ("0.0025", "0.00", False),
        "33": ("0.06", "0.00", False),
    }


def test_a_price_below_cost_is_allowed_and_flagged_in_the_margin(buy: Tree) -> None:
    tree = buy
    cheap = {"name": "a-cheap", "from_plan": "r-buy", "markup_percent": "-10"}
    assert _post(tree, tree.key_a, cheap).status_code == 201
    margin = tree.client.get("/api/v1/rate-plans/a-cheap/margin", headers=tree.auth(tree.key_a))
    rows = {r["prefix"]: (r["margin"], r["below_cost"]) for r in margin.json()["items"]}
    assert rows == {"44": ("-0.005", True), "447": ("-0.0012", True), "33": ("-0.03", True)}


def test_an_owned_plan_prices_only_accounts_below_its_owner(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    before = snapshot(tree.container)
    # the admin may name any plan, but A's prices nobody outside A's subtree
    outside = _problem(_assign(tree, tree.admin, tree.customer_b, "a-plus20"), 422, "invalid_input")
    assert "a reseller's own" in outside["detail"]
    # nor A itself (A pays by its buy plan): A cannot set its own plan anyway
    on_owner = _assign(tree, tree.admin, tree.reseller_a, "a-plus20")
    assert "a reseller's own" in _problem(on_owner, 422, "invalid_input")["detail"]
    # reseller B: as a name no plan has
    hidden = _problem(_assign(tree, tree.key_b, tree.customer_b, "a-plus20"), 422, "invalid_input")
    never = _problem(_assign(tree, tree.key_b, tree.customer_b, "zz-never"), 422, "invalid_input")
    assert hidden["detail"].replace("a-plus20", "zz-never") == never["detail"]
    assert snapshot(tree.container) == before


def test_a_subtree_priced_by_an_owned_plan_does_not_leave_its_owner(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    assert _assign(tree, tree.key_a, tree.user_a, "a-plus20").status_code == 200
    before = snapshot(tree.container)
    moved = tree.client.patch(
        f"/api/v1/accounts/{tree.customer_a}",
        json={"parent_id": tree.reseller_b},
        headers=tree.auth(tree.admin),
    )
    assert "a reseller's own" in _problem(moved, 422, "invalid_input")["detail"]
    assert snapshot(tree.container) == before


def test_what_a_reseller_may_copy(buy: Tree) -> None:
    tree = buy
    before = snapshot(tree.container)
    # a plan it reads (its customer's) but neither pays nor owns
    refused = _post(tree, tree.key_a, {"name": "x", "from_plan": "a-retail"})
    assert "buy plan or a plan it owns" in _problem(refused, 403, "forbidden")["detail"]
    # a plan it does not read: as a name no plan has
    for name in ("b-retail", "zz-never"):
        _problem(
            _post(tree, tree.key_a, {"name": "x", "from_plan": name}), 404, "unknown_rate_plan"
        )
    # a reseller's copy is its own, never another account's
    other = _post(tree, tree.key_a, {**COPY, "owner_account_id": tree.reseller_b})
    _problem(other, 403, "forbidden")
    assert snapshot(tree.container) == before


def test_tenancy_of_a_resellers_plan(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    before = snapshot(tree.container)
    url = "/api/v1/rate-plans/a-plus20"
    for key in (tree.key_b, tree.key_customer_a, tree.key_user_a):
        # A's unassigned plan: not read below A, nor by B
        for suffix in ("", "/changes", "/margin"):
            response = tree.client.get(url + suffix, headers=tree.auth(key))
            assert response.status_code in (403, 404), response.text
            if response.status_code == 404:
                assert response.json()["code"] == "unknown_rate_plan"
        listed = tree.client.get("/api/v1/rate-plans", headers=tree.auth(key)).text
        assert "a-plus20" not in listed
    # B: copying or deleting it answers as for a name no plan has
    copied = _post(tree, tree.key_b, {"name": "b-copy", "from_plan": "a-plus20"})
    never = _post(tree, tree.key_b, {"name": "b-copy", "from_plan": "zz-never"})
    assert copied.json()["detail"].replace("a-plus20", "zz-never") == never.json()["detail"]
    _problem(copied, 404, "unknown_rate_plan")
    deleted = tree.client.delete(url, headers=tree.auth(tree.key_b))
    _problem(deleted, 404, "unknown_rate_plan")
    # customer and user keys make and delete no plans; support keys read only
    for key in (tree.key_customer_a, tree.key_user_a, tree.support_a, tree.support_root):
        _problem(_post(tree, key, {**COPY, "name": "c-copy"}), 403, "forbidden")
        _problem(tree.client.delete(url, headers=tree.auth(key)), 403, "forbidden")
    for key in (tree.support_a, tree.support_root):
        assert tree.client.get(url, headers=tree.auth(key)).status_code == 200
    assert snapshot(tree.container) == before


def test_names_are_operator_wide_and_a_clash_does_not_say_whose(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    before = snapshot(tree.container)
    # B asks for A's name, and for an operator plan's name: the same answer
    b_buy = {"name": "a-plus20", "from_plan": "a-plus20"}
    taken_a = _post(tree, tree.key_a, {**b_buy, "name": "b-retail"})
    theirs = _problem(taken_a, 409, "plan_name_taken")
    mine = _problem(_post(tree, tree.key_a, {**b_buy, "name": "a-plus20"}), 409, "plan_name_taken")
    assert theirs["detail"].replace("b-retail", "a-plus20") == mine["detail"]
    assert "operator" in mine["detail"]
    assert "Reseller" not in mine["detail"]
    admin = _post(tree, tree.admin, {"name": "a-plus20", "from_plan": "r-buy"})
    _problem(admin, 409, "plan_name_taken")
    assert snapshot(tree.container) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"markup_percent": 20}, "markup_percent"),  # a JSON number is not money
        ({"markup_percent": "-100.5"}, "markup_percent"),
        ({"markup_percent": "10001"}, "markup_percent"),
        ({"markup_fixed": "0.000000001"}, "markup_fixed"),
        ({"markup_fixed": "-0.06"}, "negative"),  # 0.05 + (-0.06) < 0
        ({"name": "a/b"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"decimals": 9}, "decimals"),
        ({"rounding": "sideways"}, "rounding"),
        ({"surprise": 1}, "surprise"),
        ({"owner_account_id": 0}, "owner_account_id"),
    ],
)
def test_bad_requests_are_422_and_change_nothing(
    buy: Tree, change: dict[str, Any], field: str
) -> None:
    tree = buy
    before = snapshot(tree.container)
    response = _post(tree, tree.key_a, {**COPY, **change})
    assert response.status_code == 422, response.text
    assert field in response.text
    assert snapshot(tree.container) == before


def test_the_admin_copies_for_a_reseller_and_only_for_a_reseller(buy: Tree) -> None:
    tree = buy
    made = _post(tree, tree.admin, {**COPY, "owner_account_id": tree.reseller_a})
    assert made.status_code == 201, made.text
    assert made.json()["owner_account_id"] == tree.reseller_a
    assert _assign(tree, tree.key_a, tree.customer_a, "a-plus20").status_code == 200
    # a customer account owns no plans
    customer = _post(tree, tree.admin, {**COPY, "name": "c", "owner_account_id": tree.customer_a})
    assert "not a reseller" in _problem(customer, 422, "invalid_input")["detail"]
    # the operator's own copy
    own = _post(tree, tree.admin, {"name": "op-copy", "from_plan": "a-retail"})
    assert own.json()["owner_account_id"] is None


def test_a_plan_is_deleted_only_when_nothing_is_rated_by_it(buy: Tree) -> None:
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    assert _assign(tree, tree.key_a, tree.customer_a, "a-plus20").status_code == 200
    url = "/api/v1/rate-plans/a-plus20"
    before = snapshot(tree.container)
    in_use = tree.client.delete(url, headers=tree.auth(tree.key_a))
    _problem(in_use, 409, "plan_in_use")
    # the operator's plans are not A's to delete (r-buy: A reads it, as its own buy plan)
    _problem(
        tree.client.delete("/api/v1/rate-plans/r-buy", headers=tree.auth(tree.key_a)),
        403,
        "forbidden",
    )
    assert snapshot(tree.container) == before
    assert _assign(tree, tree.key_a, tree.customer_a, None).status_code == 200
    gone = tree.client.delete(url, headers=tree.auth(tree.key_a))
    assert gone.status_code == 204, gone.text
    _problem(tree.client.get(url, headers=tree.auth(tree.admin)), 404, "unknown_rate_plan")
    quoted = tree.client.post(
        "/api/v1/quote",
        json={"to": UK, "duration": 60, "plan": "a-plus20"},
        headers=tree.auth(tree.admin),
    )
    _problem(quoted, 404, "unknown_rate_plan")
    # the name is free again
    assert _post(tree, tree.key_a, COPY).status_code == 201


def test_a_reseller_uploads_a_deck_into_its_own_plan_and_assigns_it(buy: Tree) -> None:
    tree = buy
    made = tree.client.post(
        "/api/v1/rate-plans/a-deck/deck?currency=USD",
        content="prefix,rate,destination\n44,0.09,UK\n",
        headers={**tree.auth(tree.key_a), "content-type": "text/csv"},
    )
    assert made.status_code == 201, made.text
    assert _assign(tree, tree.key_a, tree.customer_a, "a-deck").status_code == 200
    margin = tree.client.get("/api/v1/rate-plans/a-deck/margin", headers=tree.auth(tree.key_a))
    assert [(r["prefix"], r["margin"]) for r in margin.json()["items"]] == [("44", "0.04")]


def test_a_resellers_plan_prices_its_customers_calls_and_the_cdr_shows_its_margin(
    buy: Tree,
) -> None:
    """End to end over REST: A's switch (A's key) authorizes, starts and stops a 60 s call
    of customer A1, which A's copy prices at 0.06/min + 0.012 connect; A pays its buy
    price (0.05 + 0.01) and keeps 0.012."""
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    assert _assign(tree, tree.key_a, tree.customer_a, "a-plus20").status_code == 200
    for account in (tree.reseller_a, tree.customer_a):
        funded = tree.client.post(
            f"/api/v1/accounts/{account}/topups",
            json={"amount": "10.00"},
            headers={**tree.auth(tree.admin), "Idempotency-Key": f"fund-{account}"},
        )
        assert funded.status_code == 201, funded.text
    key = tree.auth(tree.key_a)
    caller = {"account_id": tree.customer_a}
    ok = tree.client.post(
        "/api/v1/calls/authorize", json={"caller": caller, "callee": UK}, headers=key
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["allowed"], ok.json()["rate"]) == (True, "0.06")
    start = {"session_id": "rp-1", "caller": caller, "callee": UK}
    started = tree.client.post("/api/v1/calls", json=start, headers=key)
    assert started.status_code == 201, started.text
    stopped = tree.client.post("/api/v1/calls/rp-1/stop", json={"duration": 60}, headers=key)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["cost"] == "0.072"
    page = tree.client.get("/api/v1/cdrs", headers=key).json()
    assert [c["session_id"] for c in page["items"]] == ["rp-1"]
    legs = [(leg["plan"], leg["cost"], leg["margin"]) for leg in page["items"][0]["legs"]]
    assert legs == [("a-plus20", "0.072", None), ("r-buy", "0.06", "0.012")]
    balances = {
        account: tree.client.get(
            f"/api/v1/accounts/{account}/balance", headers=tree.auth(tree.admin)
        )
        for account in (tree.reseller_a, tree.customer_a)
    }
    assert balances[tree.customer_a].json()["balance"] == "9.928"
    assert balances[tree.reseller_a].json()["balance"] == "10.012"
    assert tree.container.ledger.verify() == []


def test_a_sub_reseller_buys_by_its_resellers_plan_and_marks_it_up_again(buy: Tree) -> None:
    """A → sub-reseller S (buys by A's a-plus20) → customer S1 (S's s-plus10): S copies its
    buy plan (A's, which S does not own) and prices S1; A reads S's plan (in its subtree)
    but may neither import into it nor delete it; a 60 s UK call pays each level."""
    tree = buy
    assert _post(tree, tree.key_a, COPY).status_code == 201
    sub = tree.client.post(
        "/api/v1/accounts",
        json={
            "kind": "reseller",
            "name": "S",
            "parent_id": tree.reseller_a,
            "rate_plan": "a-plus20",
        },
        headers=tree.auth(tree.key_a),
    )
    assert sub.status_code == 201, sub.text
    s = sub.json()["id"]
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    s_key = tree.container.auth.issue(system, s, Role.RESELLER).secret
    made = _post(tree, s_key, {"name": "s-plus10", "from_plan": "a-plus20", "markup_percent": "10"})
    assert made.status_code == 201, made.text
    assert made.json()["owner_account_id"] == s
    s1 = tree.client.post(
        "/api/v1/accounts",
        json={"kind": "customer", "name": "S1", "parent_id": s, "rate_plan": "s-plus10"},
        headers=tree.auth(s_key),
    )
    assert s1.status_code == 201, s1.text
    # A reads S's plan, does not own it
    assert (
        tree.client.get("/api/v1/rate-plans/s-plus10", headers=tree.auth(tree.key_a)).status_code
        == 200
    )
    _problem(
        tree.client.delete("/api/v1/rate-plans/s-plus10", headers=tree.auth(tree.key_a)),
        403,
        "forbidden",
    )
    # S cannot touch A's plan beyond copying it
    _problem(
        tree.client.delete("/api/v1/rate-plans/a-plus20", headers=tree.auth(s_key)),
        403,
        "forbidden",
    )
    margin = tree.client.get("/api/v1/rate-plans/s-plus10/margin", headers=tree.auth(s_key)).json()
    assert margin["buy_plan"] == "a-plus20"
    assert {r["prefix"]: r["margin"] for r in margin["items"]}["44"] == "0.006"
    for account in (tree.reseller_a, s, s1.json()["id"]):
        funded = tree.client.post(
            f"/api/v1/accounts/{account}/topups",
            json={"amount": "10.00"},
            headers={**tree.auth(tree.admin), "Idempotency-Key": f"fund-{account}"},
        )
        assert funded.status_code == 201, funded.text
    caller = {"account_id": s1.json()["id"]}
    call = {"session_id": "sub-1", "caller": caller, "callee": UK}
    assert tree.client.post("/api/v1/calls", json=call, headers=tree.auth(s_key)).status_code == 201
    stopped = tree.client.post(
        "/api/v1/calls/sub-1/stop", json={"duration": 60}, headers=tree.auth(s_key)
    )
    assert stopped.json()["cost"] == "0.0792"  # (0.06 + 0.012) x 1.1
    cdr = tree.client.get("/api/v1/cdrs", headers=tree.auth(tree.admin)).json()["items"][0]
    assert [(leg["plan"], leg["cost"], leg["margin"]) for leg in cdr["legs"]] == [
        ("s-plus10", "0.0792", None),
        ("a-plus20", "0.072", "0.0072"),
        ("r-buy", "0.06", "0.012"),
    ]
    assert tree.container.ledger.verify() == []
