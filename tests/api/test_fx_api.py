"""/api/v1/fx-rates: who reads and sets an operator's exchange rates, what a rate looks
like on the wire (a decimal string, exact), validation, replacement and history."""

from __future__ import annotations

from typing import Any

import pytest
from api_tree import Tree, snapshot

from voxbill.domain.access import Role

URL = "/api/v1/fx-rates"
RATE = {"base": "USD", "quote": "EUR", "rate": "0.92345000"}


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


def _set(tree: Tree, body: dict[str, Any], key: str | None = None) -> Any:
    return tree.client.post(URL, json=body, headers=tree.auth(key or tree.admin))


def _list(tree: Tree, key: str | None = None, **params: Any) -> Any:
    return tree.client.get(URL, params=params, headers=tree.auth(key or tree.admin))


def _other_operator(tree: Tree) -> tuple[int, str]:
    other, _ = tree.container.accounts.ensure_operator("Globex", "EUR")
    return other.id, tree.container.auth.issue_system(other.id, Role.ADMIN).secret


def test_every_role_on_every_endpoint(tree: Tree) -> None:
    assert _set(tree, RATE).status_code == 201
    readers = {
        "admin": tree.admin,
        "operator support": tree.support_root,
        "reseller support": tree.support_a,
        "reseller": tree.key_a,
        "other reseller": tree.key_b,
        "customer": tree.key_customer_a,
    }
    for who, key in readers.items():
        response = _list(tree, key)
        assert response.status_code == 200, who
        assert [(r["base"], r["quote"], r["rate"]) for r in response.json()["items"]] == [
            ("USD", "EUR", "0.92345000")
        ], who
    _problem(_list(tree, tree.key_user_a), 403, "forbidden")

    before = snapshot(tree.container)
    writers = {**readers, "user": tree.key_user_a}
    del writers["admin"]
    for who, key in writers.items():
        refused = _set(tree, {**RATE, "rate": "2"}, key)
        _problem(refused, 403, "forbidden")
        # refused before the body is read: a bad body changes nothing to the answer
        _problem(_set(tree, {"rate": 1.5}, key), 403, "forbidden")
    assert "support key is read-only" in _set(tree, RATE, tree.support_root).json()["detail"]
    assert snapshot(tree.container) == before


def test_another_operators_admin_neither_sees_nor_changes_these_rates(tree: Tree) -> None:
    assert _set(tree, {**RATE, "effective_from": "2030-01-01T00:00:00Z"}).status_code == 201
    other, other_admin = _other_operator(tree)
    assert _list(tree, other_admin).json()["items"] == []
    # the same pair and instant is another row: its own operator's
    mine = _set(tree, {**RATE, "rate": "2", "effective_from": "2030-01-01T00:00:00Z"}, other_admin)
    assert (mine.status_code, mine.json()["outcome"]) == (201, "created")
    assert [r["rate"] for r in _list(tree).json()["items"]] == ["0.92345000"]
    assert [r["rate"] for r in _list(tree, other_admin).json()["items"]] == ["2.00000000"]
    assert [str(r.rate) for r in tree.container.ledger.fx_rates(tree.root)] == ["0.92345"]
    assert [str(r.rate) for r in tree.container.ledger.fx_rates(other)] == ["2"]


def test_a_rate_is_a_decimal_string_that_round_trips_exactly(tree: Tree) -> None:
    created = _set(tree, {"base": "EUR", "quote": "USD", "rate": "1.08350000"})
    assert created.status_code == 201
    assert '"rate":"1.08350000"' in created.text
    assert created.json()["outcome"] == "created"
    short = _set(tree, {"base": "GBP", "quote": "USD", "rate": "1.2"})
    tiny = _set(tree, {"base": "JPY", "quote": "USD", "rate": "0.00000001"})
    big = _set(tree, {"base": "USD", "quote": "IRR", "rate": "9999999999.99999999"})
    assert [r.json()["rate"] for r in (short, tiny, big)] == [
        "1.20000000",
        "0.00000001",
        "9999999999.99999999",
    ]
    listed = _list(tree).json()["items"]
    assert [r["rate"] for r in listed] == [
        "1.08350000",
        "1.20000000",
        "0.00000001",
        "9999999999.99999999",
    ]
    assert all(isinstance(r["rate"], str) for r in listed)
    assert set(listed[0]) == {
        "id",
        "base",
        "quote",
        "rate",
        "effective_from",
        "created_at",
        "updated_at",
    }
    # lower-case codes are the same codes
    assert _set(tree, {"base": "chf", "quote": "eur", "rate": "0.95"}).json()["base"] == "CHF"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"base": "EUR", "quote": "eur", "rate": "1"}, "same_currency"),
        ({"base": "USD", "quote": "EUR", "rate": "0"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "-0.9"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "0.123456789"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "10000000000"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "1" + "0" * 400}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "1e400"}, "invalid_input"),  # not the form
        ({"base": "EURO", "quote": "USD", "rate": "1"}, "invalid_currency"),
        ({"base": "E1R", "quote": "USD", "rate": "1"}, "invalid_currency"),
        ({"base": "USD", "quote": "", "rate": "1"}, "invalid_currency"),
        ({"base": "USD", "quote": "EUR", "rate": 0.92}, "invalid_input"),  # a float: never
        ({"base": "USD", "quote": "EUR", "rate": "NaN"}, "invalid_input"),
        ({"base": "USD", "quote": "EUR", "rate": "abc"}, "invalid_input"),
        ({"base": "USD", "quote": "EUR"}, "invalid_input"),
        ({"base": "USD", "quote": "EUR", "rate": "1", "spread": "0.1"}, "invalid_input"),
        (
            {"base": "USD", "quote": "EUR", "rate": "1", "effective_from": "0001-01-01T00:00:00"},
            "invalid_input",
        ),
        (
            {"base": "USD", "quote": "EUR", "rate": "1", "effective_from": "tomorrow"},
            "invalid_input",
        ),
    ],
)
def test_bad_input_is_422_with_a_code_and_changes_nothing(
    tree: Tree, body: dict[str, Any], code: str
) -> None:
    before = snapshot(tree.container)
    _problem(_set(tree, body), 422, code)
    assert snapshot(tree.container) == before


def test_an_instant_without_zone_is_utc_as_elsewhere_in_the_api(tree: Tree) -> None:
    naive = _set(tree, {**RATE, "effective_from": "2030-01-01T12:00:00"})
    assert naive.status_code == 201
    zoned = _set(tree, {**RATE, "effective_from": "2030-01-01T14:00:00+02:00"})
    assert (zoned.status_code, zoned.json()["outcome"]) == (200, "unchanged")
    assert zoned.json()["id"] == naive.json()["id"]
    listed = _list(tree, at="2030-01-01T12:00:00").json()["items"]
    assert [r["id"] for r in listed] == [naive.json()["id"]]
    assert listed[0]["effective_from"].startswith("2030-01-01T12:00:00")


def test_the_same_pair_and_instant_again_replaces_the_rate(tree: Tree) -> None:
    future = {**RATE, "effective_from": "2031-01-01T00:00:00Z"}
    first = _set(tree, future)
    assert (first.status_code, first.json()["outcome"]) == (201, "created")
    again = _set(tree, future)
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    replaced = _set(tree, {**future, "rate": "0.93"})
    assert (replaced.status_code, replaced.json()["outcome"]) == (200, "replaced")
    assert replaced.json()["id"] == first.json()["id"]
    assert replaced.json()["created_at"] == first.json()["created_at"]
    items = _list(tree).json()["items"]
    assert [(r["rate"], r["effective_from"][:10]) for r in items] == [("0.93000000", "2031-01-01")]


def test_without_effective_from_a_rate_starts_now(tree: Tree) -> None:
    created = _set(tree, RATE).json()
    assert created["effective_from"] == created["created_at"]
    now = _list(tree, at=created["effective_from"]).json()["items"]
    assert [r["id"] for r in now] == [created["id"]]


def test_filters_and_pages(tree: Tree) -> None:
    for body in (
        {**RATE, "rate": "0.9", "effective_from": "2020-01-01T00:00:00Z"},
        {**RATE, "rate": "0.95", "effective_from": "2020-06-01T00:00:00Z"},
        {"base": "GBP", "quote": "USD", "rate": "1.25", "effective_from": "2020-01-01T00:00:00Z"},
        {"base": "GBP", "quote": "EUR", "rate": "1.15", "effective_from": "2020-03-01T00:00:00Z"},
    ):
        assert _set(tree, body).status_code == 201

    def rates(**params: Any) -> list[tuple[str, str, str]]:
        response = _list(tree, **params)
        assert response.status_code == 200, response.text
        return [(r["base"], r["quote"], r["rate"]) for r in response.json()["items"]]

    assert rates(base="usd") == [("USD", "EUR", "0.90000000"), ("USD", "EUR", "0.95000000")]
    assert rates(quote="EUR", base="GBP") == [("GBP", "EUR", "1.15000000")]
    assert rates(at="2020-02-01T00:00:00Z") == [
        ("USD", "EUR", "0.90000000"),
        ("GBP", "USD", "1.25000000"),
    ]
    assert rates(at="2021-01-01T00:00:00Z", quote="EUR") == [
        ("USD", "EUR", "0.95000000"),
        ("GBP", "EUR", "1.15000000"),
    ]
    assert rates(at="2019-12-31T23:59:59Z") == []
    first = _list(tree, limit=3).json()
    assert len(first["items"]) == 3
    rest = _list(tree, limit=3, after_id=first["next_after_id"]).json()
    assert [r["rate"] for r in rest["items"]] == ["1.15000000"]
    assert rest["next_after_id"] is None
    _problem(_list(tree, base="EURO"), 422, "invalid_currency")
    _problem(_list(tree, at="yesterday"), 422, "invalid_input")
    _problem(_list(tree, limit=0), 422, "invalid_input")


def test_a_rate_used_by_a_stored_conversion_is_not_rewritten(tree: Tree) -> None:
    container = tree.container
    euro = _euro_customer(tree)
    assert _set(tree, {**RATE, "effective_from": "2020-01-01T00:00:00Z"}).status_code == 201
    assert _set(tree, {**RATE, "rate": "5", "effective_from": "2035-01-01T00:00:00Z"}).is_success
    topup = tree.client.post(
        f"/api/v1/accounts/{tree.reseller_a}/topups",
        json={"amount": "100"},
        headers=tree.auth(tree.admin),
    )
    assert topup.status_code == 201
    moved = tree.client.post(
        f"/api/v1/accounts/{tree.reseller_a}/transfers",
        json={"to_account_id": euro, "amount": "10.01"},
        headers=tree.auth(tree.key_a),
    )
    assert moved.status_code == 201, moved.text
    # 10.01 USD x 0.92345 = 9.2437345 -> 9.24 EUR (rounded once, half up)
    assert str(container.ledger.balance(euro).balance) == "9.24"
    before = snapshot(container)
    in_use = _set(tree, {**RATE, "rate": "0.5", "effective_from": "2020-01-01T00:00:00Z"})
    _problem(in_use, 409, "fx_rate_in_use")
    assert "set the new rate from now on" in in_use.json()["detail"]
    # a new rate starting in the past would re-price the same transfer
    _problem(
        _set(tree, {**RATE, "rate": "0.5", "effective_from": "2021-01-01T00:00:00Z"}),
        409,
        "fx_rate_in_use",
    )
    # the other direction too: conversions read a rate stored either way
    inverse = {"base": "EUR", "quote": "USD", "rate": "2", "effective_from": "2021-01-01T00:00:00Z"}
    _problem(_set(tree, inverse), 409, "fx_rate_in_use")
    assert snapshot(container) == before
    # the same rate again is no change; a rate from now on, or a future one, is fine
    assert _set(tree, {**RATE, "effective_from": "2020-01-01T00:00:00Z"}).status_code == 200
    assert _set(tree, {**RATE, "rate": "0.5"}).status_code == 201
    assert (
        _set(tree, {**RATE, "rate": "6", "effective_from": "2035-01-01T00:00:00Z"}).json()[
            "outcome"
        ]
        == "replaced"
    )
    # another operator's books did not convert anything: its history is open
    _, other_admin = _other_operator(tree)
    assert _set(tree, {**RATE, "effective_from": "2020-01-01T00:00:00Z"}, other_admin).is_success
    assert _set(
        tree, {**RATE, "rate": "0.7", "effective_from": "2020-01-01T00:00:00Z"}, other_admin
    ).is_success


def _euro_customer(tree: Tree) -> int:
    from voxbill.domain.access import Principal

    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    fields = {"kind": "customer", "name": "Euro", "parent_id": tree.reseller_a, "currency": "EUR"}
    return tree.container.accounts.create(system, fields).id
