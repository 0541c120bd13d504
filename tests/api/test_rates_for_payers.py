"""Rates for everyone who pays them (issue 12, item 5): each key reads and quotes the plan
that prices its own calls, and nothing it has no business seeing.

Operator Acme (the ``api_tree``, plans a-retail and b-retail) gets a second reseller:

    reseller R (plan r-buy)          keys: reseller, support
    ├── customer C1 (c1-retail)      keys: customer, support
    │   ├── user U (no plan)         → priced by c1-retail
    │   ├── user V (v-own)           → priced by v-own (not by c1-retail above it)
    │   └── card K (no plan)         → priced by c1-retail
    ├── customer C2 (c2-retail)      the sibling
    └── customer C3 (no plan)        → priced by r-buy, its reseller's plan

and operator Globex has a plan g-only. The effective plan is charging's own rule
(:func:`voxbill.domain.charging.levels`): the account's plan, else the nearest
ancestor's below the root. A plan outside what a key reads answers 404
``unknown_rate_plan`` exactly as a name no plan has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_tree import Tree, snapshot

from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

UK = "+44 20 7946 0958"
#: the UK rate of each plan (per minute): a 60 s quote costs exactly this
UK_RATE = {
    "a-retail": "0.1000",
    "b-retail": "0.1000",
    "r-buy": "0.0500",
    "c1-retail": "0.1200",
    "c2-retail": "0.1100",
    "v-own": "0.1500",
}
ACME_PLANS = sorted(UK_RATE)
NAMES = [*ACME_PLANS, "g-only", "zz-never"]


@dataclass
class Payers:
    keys: dict[str, str]
    accounts: dict[str, int]


def _import(tree: Tree, operator_id: int, plan: str, rate: str) -> None:
    deck = read_deck(f"prefix,rate,destination\n44,{rate},UK\n33,0.30,France\n".splitlines(True))
    tree.container.rate_import.import_deck(
        deck, operator_id=operator_id, plan=plan, source="test", options=PlanOptions("USD")
    )


@pytest.fixture
def payers(tree: Tree) -> Payers:
    container = tree.container
    for plan in ("r-buy", "c1-retail", "c2-retail", "v-own"):
        _import(tree, tree.root, plan, UK_RATE[plan])
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)

    def create(parent: int, kind: str, name: str, **extra: Any) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return container.accounts.create(system, fields).id

    r = create(tree.root, "reseller", "Reseller R", rate_plan="r-buy")
    c1 = create(r, "customer", "Customer C1", rate_plan="c1-retail")
    u = create(c1, "user", "User U", shared_balance=True)
    v = create(c1, "user", "User V", rate_plan="v-own")
    k = create(c1, "card", "Card K", shared_balance=True)
    c2 = create(r, "customer", "Customer C2", rate_plan="c2-retail")
    c3 = create(r, "customer", "Customer C3")
    globex, _ = container.accounts.ensure_operator("Globex", "USD")
    _import(tree, globex.id, "g-only", "0.90")
    g_system = Principal(globex.id, globex.path, Role.ADMIN)
    g_user = container.accounts.create(
        g_system, {"kind": "customer", "name": "G1", "parent_id": globex.id, "rate_plan": "g-only"}
    ).id

    def key(account: int, role: Role, who: Principal = system) -> str:
        return container.auth.issue(who, account, role).secret

    keys = {
        "reseller R": key(r, Role.RESELLER),
        "support R": key(r, Role.SUPPORT),
        "customer C1": key(c1, Role.CUSTOMER),
        "support C1": key(c1, Role.SUPPORT),
        "user U": key(u, Role.USER),
        "user V": key(v, Role.USER),
        "card K": key(k, Role.USER),
        "customer C3": key(c3, Role.CUSTOMER),
        "globex customer": key(g_user, Role.CUSTOMER, g_system),
    }
    accounts = {"R": r, "C1": c1, "U": u, "V": v, "K": k, "C2": c2, "C3": c3}
    return Payers(keys, accounts)


#: key → (the plans it reads, its effective plan)
VISIBLE: dict[str, tuple[set[str], str | None]] = {
    "reseller R": ({"r-buy", "c1-retail", "c2-retail", "v-own"}, "r-buy"),
    "support R": ({"r-buy", "c1-retail", "c2-retail", "v-own"}, "r-buy"),
    "customer C1": ({"c1-retail", "v-own"}, "c1-retail"),
    "support C1": ({"c1-retail", "v-own"}, "c1-retail"),
    "user U": ({"c1-retail"}, "c1-retail"),
    "user V": ({"v-own"}, "v-own"),
    "card K": ({"c1-retail"}, "c1-retail"),
    "customer C3": ({"r-buy"}, "r-buy"),
}
USER_KEYS = {"user U", "user V", "card K"}


def _same_refusal(first: Any, second: Any, name: str, other: str) -> None:
    """Two answers that differ only by the plan name they echo: nothing tells them apart."""
    assert first.status_code == second.status_code == 404, (first.text, second.text)
    one, two = first.json(), second.json()
    assert one["code"] == two["code"] == "unknown_rate_plan"
    assert one["detail"].replace(name, other) == two["detail"]


def _quote(tree: Tree, key: str, plan: str | None = None, to: str = UK) -> Any:
    body: dict[str, Any] = {"to": to, "duration": 60}
    if plan is not None:
        body["plan"] = plan
    return tree.client.post("/api/v1/quote", json=body, headers=tree.auth(key))


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_each_key_lists_the_plans_it_pays_and_sells_and_marks_its_own(
    tree: Tree, payers: Payers, who: str
) -> None:
    visible, effective = VISIBLE[who]
    response = tree.client.get("/api/v1/rate-plans", headers=tree.auth(payers.keys[who]))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [p["name"] for p in items] == sorted(visible)
    assert [p["name"] for p in items if p["effective"]] == [effective]
    assert all(p["operator_id"] == tree.root for p in items)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_the_tenancy_matrix_of_reading_plans(tree: Tree, payers: Payers, who: str) -> None:
    """Own plan, ancestor's, sibling's, another reseller's, another operator's: read only
    what the key pays or sells; the rest answers as a name no plan has."""
    key = payers.keys[who]
    visible, _ = VISIBLE[who]
    for name in NAMES:
        for suffix in ("", "/changes"):
            response = tree.client.get(f"/api/v1/rate-plans/{name}{suffix}", headers=tree.auth(key))
            if name in visible:
                assert response.status_code == 200, (who, name, response.text)
                continue
            never = tree.client.get(f"/api/v1/rate-plans/zz-never{suffix}", headers=tree.auth(key))
            _same_refusal(response, never, name, "zz-never")


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_the_tenancy_matrix_of_quoting(tree: Tree, payers: Payers, who: str) -> None:
    """A user or card key quotes only its effective plan; other keys what they read.
    Without a plan, every key quotes its effective plan, exactly."""
    key = payers.keys[who]
    visible, effective = VISIBLE[who]
    quotable = {effective} if who in USER_KEYS else visible
    for name in NAMES:
        response = _quote(tree, key, name)
        if name in quotable:
            assert response.status_code == 200, (who, name, response.text)
            assert (response.json()["plan"], response.json()["cost"]) == (name, UK_RATE[name])
        else:
            _same_refusal(response, _quote(tree, key, "zz-never"), name, "zz-never")
    default = _quote(tree, key)
    assert default.status_code == 200, default.text
    assert effective is not None
    body = default.json()
    assert (body["plan"], body["destination"], body["cost"]) == (
        effective,
        "UK",
        UK_RATE[effective],
    )
    france = _quote(tree, key, to="+33 1 23 45 67 89").json()
    assert (france["destination"], france["cost"]) == ("France", "0.3000")


def test_a_user_key_pages_the_rates_of_its_effective_plan(tree: Tree, payers: Payers) -> None:
    headers = tree.auth(payers.keys["user U"])
    first = tree.client.get("/api/v1/rate-plans/c1-retail?limit=1", headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["rows"], len(first.json()["rates"])) == (2, 1)
    after = first.json()["next_after_id"]
    rest = tree.client.get(f"/api/v1/rate-plans/c1-retail?after_id={after}", headers=headers)
    assert rest.json()["next_after_id"] is None
    rates = {r["prefix"]: r["rate"] for r in first.json()["rates"] + rest.json()["rates"]}
    assert rates == {"44": "0.12", "33": "0.30"}


def test_the_api_tree_user_now_sees_the_plan_of_its_customer(tree: Tree) -> None:
    """The symptom of the issue: a user key with no plan of its own listed nothing and
    quoting its customer's plan was 404."""
    headers = tree.auth(tree.key_user_a)
    listed = tree.client.get("/api/v1/rate-plans", headers=headers).json()["items"]
    assert [(p["name"], p["effective"]) for p in listed] == [("a-retail", True)]
    quoted = _quote(tree, tree.key_user_a, "a-retail")
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["cost"] == "0.1000"
    _same_refusal(
        _quote(tree, tree.key_user_a, "b-retail"),
        _quote(tree, tree.key_user_a, "zz"),
        "b-retail",
        "zz",
    )


def test_keys_without_an_effective_plan(tree: Tree, payers: Payers) -> None:
    """The operator's admin and a reseller without a plan of its own pay by no plan: they
    name the plan they quote; omitting it is a 422."""
    for key in (tree.admin, tree.key_a):
        listed = tree.client.get("/api/v1/rate-plans", headers=tree.auth(key)).json()["items"]
        assert not any(p["effective"] for p in listed)
        missing = _quote(tree, key)
        assert missing.status_code == 422, missing.text
        assert missing.json()["code"] == "invalid_input"
        assert _quote(tree, key, "a-retail").status_code == 200
    admin_names = tree.client.get("/api/v1/rate-plans", headers=tree.auth(tree.admin)).json()
    assert [p["name"] for p in admin_names["items"]] == ACME_PLANS


def test_another_operators_key_sees_none_of_these(tree: Tree, payers: Payers) -> None:
    key = payers.keys["globex customer"]
    listed = tree.client.get("/api/v1/rate-plans", headers=tree.auth(key)).json()["items"]
    assert [(p["name"], p["effective"]) for p in listed] == [("g-only", True)]
    for name in ACME_PLANS:
        _same_refusal(_quote(tree, key, name), _quote(tree, key, "zz-never"), name, "zz-never")
    assert _quote(tree, key).json()["cost"] == "0.9000"


def test_support_keys_read_and_quote_but_never_write(tree: Tree, payers: Payers) -> None:
    before = snapshot(tree.container)
    for who in ("support R", "support C1"):
        headers = {**tree.auth(payers.keys[who]), "content-type": "text/csv"}
        # read-only whatever the name (so the answer tells nothing of other plans)
        for name, status in (("c1-retail", 403), ("a-retail", 403), ("zz-never", 403)):
            upload = tree.client.post(
                f"/api/v1/rate-plans/{name}/deck", content="prefix,rate\n44,0.01\n", headers=headers
            )
            assert upload.status_code == status, (who, name, upload.text)
    # neither may the paying keys change the plans they read
    for who in ("user U", "customer C1", "reseller R"):
        headers = {**tree.auth(payers.keys[who]), "content-type": "text/csv"}
        upload = tree.client.post(
            "/api/v1/rate-plans/c1-retail/deck", content="prefix,rate\n44,0.01\n", headers=headers
        )
        assert upload.status_code == 403, (who, upload.text)
    assert snapshot(tree.container) == before


# -- a reseller's margin per destination ------------------------------------------------


def _margin(tree: Tree, key: str, plan: str, query: str = "") -> Any:
    return tree.client.get(f"/api/v1/rate-plans/{plan}/margin{query}", headers=tree.auth(key))


def _rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (i["prefix"], i["destination"], i["sell_rate"], i["buy_prefix"], i["buy_rate"], i["margin"])
        for i in body["items"]
    ]


def test_a_reseller_reads_its_margin_per_destination(tree: Tree, payers: Payers) -> None:
    """Reseller R buys by r-buy (UK 0.05, France 0.30) and sells c2-retail (UK 0.11, UK
    mobile 0.25, France 0.30, Germany 0.08): per minute it keeps 0.06 on UK, 0.20 on UK
    mobile (bought at its UK price: r-buy has no 4477), nothing on France; r-buy has no
    German rate, so Germany has no buy price and no margin."""
    extra = "prefix,rate,destination\n4477,0.25,UK mobile\n49,0.08,Germany\n"
    tree.container.rate_import.import_deck(
        read_deck(extra.splitlines(True)),
        operator_id=tree.root,
        plan="c2-retail",
        source="test",
        options=PlanOptions(),
    )
    before = snapshot(tree.container)
    for who in ("reseller R", "support R"):
        response = _margin(tree, payers.keys[who], "c2-retail")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["plan"], body["buy_plan"], body["currency"]) == ("c2-retail", "r-buy", "USD")
        assert sorted(_rows(body)) == [
            ("33", "France", "0.30", "33", "0.30", "0.00"),
            ("44", "UK", "0.11", "44", "0.05", "0.06"),
            ("4477", "UK mobile", "0.25", "44", "0.05", "0.20"),
            ("49", "Germany", "0.08", None, None, None),
        ]
        assert body["next_after_id"] is None
    # paged by the sell plan's rows, as the plan itself
    first = _margin(tree, payers.keys["reseller R"], "c2-retail", "?limit=3").json()
    rest = _margin(
        tree, payers.keys["reseller R"], "c2-retail", f"?after_id={first['next_after_id']}"
    ).json()
    assert (len(first["items"]), len(rest["items"]), rest["next_after_id"]) == (3, 1, None)
    assert snapshot(tree.container) == before


def test_a_customer_that_sells_to_its_users_reads_its_margin_too(
    tree: Tree, payers: Payers
) -> None:
    """Customer C1 pays by c1-retail (UK 0.12) and its user V by v-own (UK 0.15)."""
    body = _margin(tree, payers.keys["customer C1"], "v-own").json()
    assert body["buy_plan"] == "c1-retail"
    assert sorted(_rows(body)) == [
        ("33", "France", "0.30", "33", "0.30", "0.00"),
        ("44", "UK", "0.15", "44", "0.12", "0.03"),
    ]


def test_margins_of_plans_a_key_does_not_sell_do_not_exist(tree: Tree, payers: Payers) -> None:
    cases = [
        ("reseller R", "a-retail"),  # another reseller's customer's plan
        ("reseller R", "g-only"),  # another operator's
        ("customer C1", "c2-retail"),  # a sibling's
        ("customer C1", "r-buy"),  # its reseller's buy plan
        ("customer C3", "r-buy"),  # the plan it pays by, not one it sells
        ("globex customer", "c1-retail"),
    ]
    for who, name in cases:
        key = payers.keys[who]
        _same_refusal(_margin(tree, key, name), _margin(tree, key, "zz-never"), name, "zz-never")
    # a key whose account pays by no plan of its own has no buy price
    for key in (tree.key_a, tree.admin):
        response = _margin(tree, key, "a-retail")
        assert response.status_code == 422, response.text
        assert "no plan of its own" in response.json()["detail"]
    # a user or card key sells nothing
    for who in ("user U", "card K"):
        assert _margin(tree, payers.keys[who], "c1-retail").status_code == 403
    assert (
        _margin(tree, payers.keys["reseller R"], "c2-retail", "?at=2026-01-01T00:00:00").status_code
        == 422
    )


def test_no_margin_across_currencies(tree: Tree, payers: Payers) -> None:
    tree.container.rate_import.import_deck(
        read_deck("prefix,rate\n44,0.09\n".splitlines(True)),
        operator_id=tree.root,
        plan="eur-retail",
        source="test",
        options=PlanOptions("EUR"),
    )
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    tree.container.accounts.create(
        system,
        {
            "kind": "customer",
            "name": "C4",
            "parent_id": payers.accounts["R"],
            "rate_plan": "eur-retail",
            "currency": "EUR",
        },
    )
    response = _margin(tree, payers.keys["reseller R"], "eur-retail")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "currency_mismatch"
