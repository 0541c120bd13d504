"""Conversions read the rates of the operator owning the books, never another's: worked
examples through the API (a transfer into a EUR balance, a EUR customer's call carried
by a USD vendor) and through the ledger, on SQLite and PostgreSQL.

A call is never converted inside its charge: each level pays in its own account's
currency by a plan in that currency (an account refuses a plan in another currency).
What a call converts is the vendor's cost, into the operator's margin on the CDR.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient

from voxbill.api.app import create_app
from voxbill.bootstrap import Container, build
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import DatabaseBusy, InvalidInput, NotFound
from voxbill.domain.fx import FxRateInUse
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions
from voxbill.settings import Settings

UK = "+441234567"


@dataclass
class Operator:
    root: int
    system: Principal
    admin: str
    reseller: int  # USD, with a key
    reseller_key: str
    customer: int  # EUR, under the reseller
    caller: int  # EUR, directly under the operator, on plan retail-eur
    vendor: int  # USD, on plan buy-usd


def _deck(container: Container, root: int, plan: str, currency: str, rate: str) -> None:
    container.rate_import.import_deck(
        read_deck(f"prefix,rate,destination\n44,{rate},UK\n".splitlines(keepends=True)),
        operator_id=root,
        plan=plan,
        source="test",
        options=PlanOptions(currency=currency),
    )


def _operator(container: Container, name: str) -> Operator:
    root, _ = container.accounts.ensure_operator(name, "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    _deck(container, root.id, "retail-eur", "EUR", "0.10")  # each operator its own plans
    _deck(container, root.id, "buy-usd", "USD", "0.03")

    def create(parent: int, kind: str, currency: str, **extra: Any) -> int:
        fields = {"kind": kind, "name": f"{name} {kind}", "parent_id": parent, **extra}
        return container.accounts.create(system, {**fields, "currency": currency}).id

    reseller = create(root.id, "reseller", "USD")
    operator = Operator(
        root=root.id,
        system=system,
        admin=container.auth.issue_system(root.id, Role.ADMIN).secret,
        reseller=reseller,
        reseller_key=container.auth.issue(system, reseller, Role.RESELLER).secret,
        customer=create(reseller, "customer", "EUR"),
        caller=create(root.id, "customer", "EUR", rate_plan="retail-eur"),
        vendor=create(root.id, "vendor", "USD", rate_plan="buy-usd"),
    )
    container.ledger.top_up(reseller, D("100"), actor="test")
    container.ledger.top_up(operator.caller, D("10"), actor="test")
    return operator


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _set_rate(client: TestClient, key: str, rate: str, since: str = "2026-01-01T00:00:00Z") -> Any:
    body = {"base": "USD", "quote": "EUR", "rate": rate, "effective_from": since}
    return client.post("/api/v1/fx-rates", json=body, headers=_auth(key))


def test_a_transfer_is_converted_at_its_own_operators_rate(
    client: TestClient, container: Container
) -> None:
    acme, globex = _operator(container, "Acme"), _operator(container, "Globex")
    assert _set_rate(client, acme.admin, "1.08350000").status_code == 201
    assert _set_rate(client, globex.admin, "2").status_code == 201
    for operator, credited in ((acme, "10.85"), (globex, "20.02")):
        moved = client.post(
            f"/api/v1/accounts/{operator.reseller}/transfers",
            json={"to_account_id": operator.customer, "amount": "10.01"},
            headers=_auth(operator.reseller_key),
        )
        assert moved.status_code == 201, moved.text
        assert moved.json()["amount"] == "-10.01"
        balance = client.get(
            f"/api/v1/accounts/{operator.customer}/balance", headers=_auth(operator.admin)
        ).json()
        # 10.01 x 1.0835 = 10.845835 -> 10.85; 10.01 x 2 = 20.02 (rounded once, half up)
        assert (balance["balance"], balance["currency"]) == (credited, "EUR")
    assert container.ledger.verify() == []


def test_an_operator_without_a_rate_never_borrows_another_operators(
    client: TestClient, container: Container
) -> None:
    acme, globex = _operator(container, "Acme"), _operator(container, "Globex")
    assert _set_rate(client, acme.admin, "0.9").status_code == 201
    refused = client.post(
        f"/api/v1/accounts/{globex.reseller}/transfers",
        json={"to_account_id": globex.customer, "amount": "10"},
        headers=_auth(globex.reseller_key),
    )
    assert refused.status_code == 404
    assert refused.json()["code"] == "no_fx_rate"
    assert container.ledger.balance(globex.customer).balance == 0
    assert container.ledger.balance(globex.reseller).balance == D("100")
    with pytest.raises(NotFound):
        container.ledger.fx_rate("USD", "EUR", operator_id=globex.root)
    assert container.ledger.fx_rate("EUR", "USD", operator_id=acme.root) == D(1) / D("0.9")


def test_a_call_to_a_vendor_in_another_currency_has_its_margin_at_the_operators_rate(
    client: TestClient, container: Container
) -> None:
    """The literal "EUR balance rated by a USD plan" does not exist: the account refuses
    the plan. The call's conversion is the USD vendor's cost into the EUR payer's margin."""
    acme = _operator(container, "Acme")
    with pytest.raises(InvalidInput, match="is in USD, not EUR"):
        container.accounts.patch(acme.system, acme.caller, {"rate_plan": "buy-usd"})
    assert _set_rate(client, acme.admin, "0.92345000").status_code == 201
    start = {"session_id": "fx-1", "caller": {"account_id": acme.caller}, "callee": UK}
    started = client.post(
        "/api/v1/calls", json={**start, "vendor_id": acme.vendor}, headers=_auth(acme.admin)
    )
    assert started.status_code == 201, started.text
    stopped = client.post(
        "/api/v1/calls/fx-1/stop", json={"duration": 95}, headers=_auth(acme.admin)
    )
    assert stopped.status_code == 200, stopped.text
    # the caller pays its EUR plan: 95 s x 0.10 / 60 = 0.158333... -> 0.1583 EUR
    assert (stopped.json()["cost"], stopped.json()["currency"]) == ("0.1583", "EUR")
    assert stopped.json()["balance"] == "9.8417"
    cdr = client.get("/api/v1/cdrs", headers=_auth(acme.admin)).json()["items"][0]
    # the vendor billed 95 x 0.03 / 60 = 0.0475 USD = 0.043863875 EUR -> 0.04386388
    vendor_in_eur = (D("0.0475") * D("0.92345")).quantize(D("1E-8"), rounding=ROUND_HALF_UP)
    assert vendor_in_eur == D("0.04386388")
    assert (cdr["vendor_cost"], cdr["vendor_currency"]) == ("0.0475", "USD")
    assert D(cdr["margin"]) == D("0.1583") - vendor_in_eur == D("0.11443612")
    # that margin is stored: the rate it used is history now
    changed = _set_rate(client, acme.admin, "0.5")
    assert (changed.status_code, changed.json()["code"]) == (409, "fx_rate_in_use")
    from_now = {"base": "USD", "quote": "EUR", "rate": "0.5"}
    assert client.post("/api/v1/fx-rates", json=from_now, headers=_auth(acme.admin)).is_success


def test_with_several_operators_a_margin_uses_its_own_operators_rate(
    client: TestClient, container: Container
) -> None:
    """The margin converts at the rate of the vendor's operator: with several operators,
    another operator's rate is never used (no rate of its own: no margin)."""
    acme, globex = _operator(container, "Acme"), _operator(container, "Globex")
    assert _set_rate(client, globex.admin, "2").status_code == 201

    def call(session: str) -> dict[str, object]:
        start = {"session_id": session, "caller": {"account_id": acme.caller}, "callee": UK}
        started = client.post(
            "/api/v1/calls", json={**start, "vendor_id": acme.vendor}, headers=_auth(acme.admin)
        )
        assert started.status_code == 201, started.text
        stop = {"duration": 95}
        client.post(f"/api/v1/calls/{session}/stop", json=stop, headers=_auth(acme.admin))
        items = client.get("/api/v1/cdrs", headers=_auth(acme.admin)).json()["items"]
        found: dict[str, object] = next(c for c in items if c["session_id"] == session)
        return found

    assert call("fx-2")["margin"] is None  # not 0.1583 - 0.0475 x 2: Acme has no rate
    assert _set_rate(client, acme.admin, "0.92345").status_code == 201
    # 0.1583 - 0.0475 x 0.92345 (0.04386388 EUR), as in the worked example above
    assert D(str(call("fx-3")["margin"])) == D("0.11443612")
    with pytest.raises(NotFound):  # a lookup naming no operator
        container.ledger.fx_rate("USD", "EUR")
    assert container.ledger.fx_rate("USD", "EUR", operator_id=globex.root) == D(2)


def test_the_only_operators_rate_serves_lookups_that_name_no_operator(
    client: TestClient, container: Container
) -> None:
    acme = _operator(container, "Acme")
    assert _set_rate(client, acme.admin, "0.9").status_code == 201
    assert container.ledger.fx_rate("USD", "EUR") == D("0.9")


def test_books_of_two_operators_are_never_converted_together(
    client: TestClient, container: Container
) -> None:
    acme, globex = _operator(container, "Acme"), _operator(container, "Globex")
    for operator in (acme, globex):
        assert _set_rate(client, operator.admin, "0.9").status_code == 201
    with pytest.raises(InvalidInput, match="different operators"):
        container.ledger.transfer(acme.reseller, globex.customer, D("1"), actor="test")


def test_setting_a_rate_waits_for_a_conversion_reading_it(database_url: str) -> None:
    """A conversion holds its pair until it commits, so a rate set meanwhile is set
    after it (and sees what it stored): here, a short lock timeout makes the wait a
    refusal instead."""
    container = build(Settings(database_url=database_url, lock_timeout_seconds=0.2), migrate=True)
    try:
        root, _ = container.accounts.ensure_operator("Acme", "USD")
        container.ledger.set_fx_rate(
            root.id, "USD", "EUR", D("0.9"), datetime(2026, 1, 1, tzinfo=UTC)
        )
        with container.uow.transaction() as tx:
            found = tx.fx.fx_rate_at("EUR", "USD", datetime.now(UTC), root.id, lock=True)
            assert found is not None
            with pytest.raises(DatabaseBusy):
                container.ledger.set_fx_rate(root.id, "EUR", "USD", D("1.2"))
        assert container.ledger.set_fx_rate(root.id, "EUR", "USD", D("1.2")).outcome == "created"
    finally:
        container.close()


@pytest.mark.usefixtures("client")
def test_only_the_rate_a_stored_conversion_used_is_frozen(container: Container) -> None:
    acme = _operator(container, "Acme")
    ledger = container.ledger
    first, second = datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    ledger.set_fx_rate(acme.root, "USD", "EUR", D("0.9"), first)
    ledger.set_fx_rate(acme.root, "USD", "EUR", D("0.95"), second)
    moved = ledger.transfer(acme.reseller, acme.customer, D("10"), actor="test")
    assert moved.counterparty_amount == D("9.50")  # at the 2025 rate
    # the 2020 rate was superseded before the transfer: still correctable
    assert ledger.set_fx_rate(acme.root, "USD", "EUR", D("0.91"), first).outcome == "replaced"
    with pytest.raises(FxRateInUse):
        ledger.set_fx_rate(acme.root, "USD", "EUR", D("0.96"), second)
    with pytest.raises(FxRateInUse):  # a new rate cutting into the used period
        ledger.set_fx_rate(acme.root, "USD", "EUR", D("0.96"), datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(FxRateInUse):  # the other way round: it would be read as 1 / rate
        ledger.set_fx_rate(acme.root, "EUR", "USD", D("1.1"), second)
    # a pair nothing converted is open
    assert ledger.set_fx_rate(acme.root, "GBP", "EUR", D("1.15"), first).outcome == "created"
    assert [str(r.rate) for r in ledger.fx_rates(acme.root, base="USD")] == ["0.91", "0.95"]
