"""The operator's carrier-side pages (docs/portal.md "Vendors and partners", "Exchange
rates", "High-risk destinations") on SQLite and PostgreSQL: the pages, the writes and
their refusals with the API's codes, tenancy (403 for a role, 404 outside the subtree),
support read-only, CSRF (403, nothing changed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from portal_world import PASSWORD, World, csrf_of, form_key_of, post_form, snapshot

from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import CutoffMode
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

BUY_DECK = "prefix,rate,destination\n44,0.05,UK\n4470,0.09,UK mobile\n"
_POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass
class Carriers:
    world: World
    vendor: int
    other_vendor: int
    euro_customer: int

    def page(self, who: str) -> TestClient:
        return self.world.signed_in(who)


@pytest.fixture
def carriers(world: World) -> Carriers:
    """The world plus two vendors (one with a buy plan and a portal user of its own) and
    a customer in another currency."""
    container = world.container
    system = Principal(world.root, f"/{world.root}/", Role.ADMIN)
    container.rate_import.import_deck(
        read_deck(BUY_DECK.splitlines(keepends=True)),
        operator_id=world.root,
        plan="carrier-buy",
        source="test",
        options=PlanOptions(currency="USD"),
    )

    def create(kind: str, name: str, **extra: object) -> int:
        fields = {"kind": kind, "name": name, "parent_id": world.root, **extra}
        return container.accounts.create(system, fields).id

    vendor = create("vendor", "Carrier One", rate_plan="carrier-buy")
    other = create("vendor", "Carrier Two")
    euro = create("customer", "Euro Customer", currency="EUR")
    container.auth.create_portal_user(
        system, vendor, "carrier@example.com", PASSWORD, Role.CUSTOMER
    )
    world.emails["vendor_user"] = "carrier@example.com"
    return Carriers(world, vendor, other, euro)


def _refused(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert f'data-testid="code">{code}<' in response.text  # type: ignore[attr-defined]


# -- vendors --------------------------------------------------------------------------


def test_admin_lists_vendors_and_reads_a_vendor_page(carriers: Carriers) -> None:
    world, vendor = carriers.world, carriers.vendor
    client = carriers.page("admin")
    home = client.get("/portal/").text
    for link in ("/portal/vendors", "/portal/fx", "/portal/fraud"):
        assert f'href="{link}"' in home
    listing = client.get("/portal/vendors")
    assert listing.status_code == 200
    assert "Carrier One" in listing.text
    assert "Carrier Two" in listing.text
    assert "Customer A1" not in listing.text  # vendors only
    assert f'data-testid="balance-{vendor}">0.00 USD<' in listing.text
    assert "carrier-buy" in listing.text
    page = client.get(f"/portal/vendors/{vendor}")
    assert page.status_code == 200
    assert 'data-testid="buy-plan">carrier-buy<' in page.text
    assert "none: routing skips it" in page.text  # no SIP target yet
    routes = page.text.split('data-testid="routes"')[1]
    assert "<td>4470</td><td>UK mobile</td><td>0.09</td>" in routes
    assert 'data-testid="outbound">0.00 USD<' in page.text
    for action in ("sip-target", "partner", "top-up"):
        assert f'action="/portal/vendors/{vendor}/{action}"' in page.text
    # an account that is not a vendor has no vendor page
    assert client.get(f"/portal/vendors/{world.customer_a}").status_code == 404


def test_sip_target_is_set_and_bad_ones_refused(carriers: Carriers) -> None:
    world, vendor = carriers.world, carriers.vendor
    client = carriers.page("admin")
    page = f"/portal/vendors/{vendor}"
    data = {"host": "sbc.carrier.example", "port": "5080", "transport": "tcp", "tech_prefix": "99#"}
    done = post_form(client, f"{page}/sip-target", data, page)
    assert (done.status_code, done.headers["location"]) == (303, f"{page}?done=sip-target")
    shown = client.get(page).text
    assert "sip:99#NUMBER@sbc.carrier.example:5080;transport=tcp" in shown
    assert "sbc.carrier.example:5080/tcp" in client.get("/portal/vendors").text
    before = snapshot(world.container)
    for bad in (
        {"host": "bad host!", "port": "5060"},
        {"host": "sbc.example", "port": "70000"},
        {"host": "sbc.example", "port": "five"},
        {"host": "sbc.example", "transport": "sctp"},
    ):
        response = post_form(client, f"{page}/sip-target", bad, page)
        assert response.status_code == 422, bad
    assert snapshot(world.container) == before


def test_partner_link_position_and_refusals(carriers: Carriers) -> None:
    world, vendor = carriers.world, carriers.vendor
    container = world.container
    client = carriers.page("admin")
    page = f"/portal/vendors/{vendor}"
    linked = post_form(
        client,
        f"{page}/partner",
        {"partner_id": str(world.customer_a), "cutoff_mode": "none"},
        page,
    )
    assert (linked.status_code, linked.headers["location"]) == (303, f"{page}?done=linked")
    operator = Principal(world.root, f"/{world.root}/", Role.ADMIN)
    assert container.accounts.visible(operator, vendor).partner_id == world.customer_a
    # the partner's position, as GET /accounts/{id}/partner: customer A1 inbound 10,
    # the vendor paid 3 (outbound), net 7
    container.ledger.top_up(world.customer_a, Decimal("10"), actor="test")
    container.ledger.top_up(vendor, Decimal("3"), actor="test")
    container.accounts.patch(operator, world.customer_a, {"cutoff_mode": CutoffMode.MUTUAL})
    shown = client.get(page).text
    assert f'data-testid="partner"><a href="/portal/accounts/{world.customer_a}">' in shown
    assert 'data-testid="mode">mutual<' in shown
    assert 'data-testid="inbound">10.00 USD<' in shown
    assert 'data-testid="outbound">3.00 USD<' in shown
    assert 'data-testid="net">7.00 USD<' in shown
    assert 'data-testid="inbound-cut">allowed<' in shown
    assert 'data-testid="outbound-cut">routed<' in shown
    listing = client.get("/portal/vendors").text
    assert f'<a href="/portal/accounts/{world.customer_a}">{world.customer_a}</a>' in listing

    before = snapshot(container)
    other = f"/portal/vendors/{carriers.other_vendor}"
    for path, data, status, code in (
        (page, {"partner_id": str(world.user_a), "cutoff_mode": "none"}, 422, "invalid_partner"),
        (page, {"partner_id": "999999", "cutoff_mode": "none"}, 422, "invalid_partner"),
        (
            page,
            {"partner_id": str(carriers.euro_customer), "cutoff_mode": "none"},
            422,
            "partner_currency_mismatch",
        ),
        (
            page,
            {"partner_id": str(world.customer_a), "cutoff_mode": "outbound"},
            422,
            "cutoff_on_vendor_side",
        ),
        (page, {"partner_id": "", "cutoff_mode": "mutual"}, 422, "invalid_cutoff_mode"),
        (other, {"partner_id": str(world.customer_a), "cutoff_mode": "none"}, 409, "partner_taken"),
    ):
        response = post_form(client, f"{path}/partner", data, path)
        _refused(response, status, code)
    bad_mode = post_form(client, f"{page}/partner", {"partner_id": "", "cutoff_mode": "x"}, page)
    assert bad_mode.status_code == 422
    bad_id = post_form(client, f"{page}/partner", {"partner_id": "abc"}, page)
    assert bad_id.status_code == 422
    assert snapshot(container) == before

    unlinked = post_form(
        client, f"{page}/partner", {"partner_id": "", "cutoff_mode": "outbound"}, page
    )
    assert (unlinked.status_code, unlinked.headers["location"]) == (303, f"{page}?done=saved")
    shown = client.get(page).text
    assert 'data-testid="partner">none<' in shown
    assert 'data-testid="own-mode">outbound<' in shown
    assert 'data-testid="outbound">3.00 USD<' in shown  # its own outbound side alone


def test_paying_a_carrier_moves_money_once(carriers: Carriers) -> None:
    world, vendor = carriers.world, carriers.vendor
    client = carriers.page("admin")
    page = f"/portal/vendors/{vendor}"
    html = client.get(page).text
    form = {"csrf_token": csrf_of(html), "form_key": form_key_of(html), "amount": "12.50"}
    first = client.post(f"{page}/top-up", data=form)
    assert (first.status_code, first.headers["location"]) == (303, f"{page}?done=top-up")
    again = client.post(f"{page}/top-up", data=form)
    assert again.status_code == 303
    assert world.balance(vendor) == Decimal("12.50")
    assert 'data-testid="balance">12.50 USD<' in client.get(page).text
    before = snapshot(world.container)
    bad = client.post(f"{page}/top-up", data={**form, "form_key": "", "amount": "1.5x"})
    assert bad.status_code == 422
    not_a_vendor = client.post(
        f"/portal/vendors/{world.customer_a}/top-up", data={**form, "form_key": ""}
    )
    assert not_a_vendor.status_code == 404
    assert snapshot(world.container) == before


# -- exchange rates -------------------------------------------------------------------


def test_admin_sets_and_lists_exchange_rates(carriers: Carriers) -> None:
    world = carriers.world
    client = carriers.page("admin")
    data = {"base": "usd", "quote": "EUR", "rate": "0.92345"}
    done = post_form(client, "/portal/fx", data, "/portal/fx")
    assert (done.status_code, done.headers["location"]) == (303, "/portal/fx?done=created")
    table = client.get("/portal/fx").text.split('data-testid="fx-rates"')[1]
    assert "<td>USD</td><td>EUR</td><td>0.92345</td>" in table
    before = snapshot(world.container)
    for bad, code in (
        ({"base": "USD", "quote": "EUR", "rate": "-1"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "abc"}, "invalid_fx_rate"),
        ({"base": "USD", "quote": "EUR", "rate": "1.123456789"}, "invalid_fx_rate"),
        ({"base": "XX", "quote": "EUR", "rate": "1"}, "invalid_currency"),
    ):
        _refused(post_form(client, "/portal/fx", bad, "/portal/fx"), 422, code)
    bad_when = {"base": "USD", "quote": "EUR", "rate": "1", "effective_from": "soon"}
    assert post_form(client, "/portal/fx", bad_when, "/portal/fx").status_code == 422
    assert snapshot(world.container) == before


def test_exchange_rates_page_by_id(carriers: Carriers) -> None:
    ledger = carriers.world.container.ledger
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(55):
        ledger.set_fx_rate(
            carriers.world.root, "USD", "GBP", Decimal("0.79"), start + timedelta(days=day)
        )
    client = carriers.page("admin")
    first = client.get("/portal/fx").text
    found = re.search(r'href="/portal/fx\?base=&amp;quote=&amp;after_id=(\d+)"', first)
    assert found is not None
    assert first.count("<td>USD</td><td>GBP</td>") == 50
    second = client.get(f"/portal/fx?after_id={found.group(1)}").text
    assert second.count("<td>USD</td><td>GBP</td>") == 5
    assert "after_id=" not in second.split("</table>")[1]
    only = client.get("/portal/fx", params={"base": "EUR"}).text
    assert "<td>USD</td><td>GBP</td>" not in only


# -- high-risk destinations ---------------------------------------------------------


def test_admin_marks_and_unmarks_high_risk_prefixes(carriers: Carriers) -> None:
    world = carriers.world
    client = carriers.page("admin")
    data = {"prefixes": "882, +4470\n881", "note": "satellite"}
    done = post_form(client, "/portal/fraud", data, "/portal/fraud")
    assert (done.status_code, done.headers["location"]) == (303, "/portal/fraud?done=added+3")
    table = client.get("/portal/fraud").text.split('data-testid="high-risk"')[1]
    for prefix in ("+882", "+4470", "+881"):
        assert f"<td>{prefix}</td><td>satellite</td>" in table
    again = post_form(client, "/portal/fraud", {"prefixes": "882"}, "/portal/fraud")
    assert again.headers["location"] == "/portal/fraud?done=added+0"
    removed = post_form(client, "/portal/fraud/remove", {"prefix": "881"}, "/portal/fraud")
    assert (removed.status_code, removed.headers["location"]) == (303, "/portal/fraud?done=removed")
    assert "<td>+881</td>" not in client.get("/portal/fraud").text
    before = snapshot(world.container)
    assert (
        post_form(client, "/portal/fraud/remove", {"prefix": "999"}, "/portal/fraud").status_code
        == 404
    )
    assert (
        post_form(client, "/portal/fraud", {"prefixes": "88a"}, "/portal/fraud").status_code == 422
    )
    assert (
        post_form(client, "/portal/fraud", {"prefixes": " , "}, "/portal/fraud").status_code == 422
    )
    long_note = {"prefixes": "883", "note": "x" * 201}
    assert post_form(client, "/portal/fraud", long_note, "/portal/fraud").status_code == 422
    assert snapshot(world.container) == before


# -- tenancy, support, CSRF ---------------------------------------------------------


def _posts(carriers: Carriers) -> list[tuple[str, dict[str, str]]]:
    vendor = carriers.vendor
    return [
        (f"/portal/vendors/{vendor}/sip-target", {"host": "sbc.example"}),
        (f"/portal/vendors/{vendor}/partner", {"partner_id": "", "cutoff_mode": "outbound"}),
        (f"/portal/vendors/{vendor}/top-up", {"amount": "5"}),
        ("/portal/fx", {"base": "USD", "quote": "EUR", "rate": "0.9"}),
        ("/portal/fraud", {"prefixes": "882"}),
        ("/portal/fraud/remove", {"prefix": "881"}),
    ]


@pytest.mark.parametrize("who", ["reseller_a", "customer_a", "user_a"])
def test_other_roles_are_refused(carriers: Carriers, who: str) -> None:
    """A role the API refuses is a 403, a vendor outside the subtree a 404."""
    world = carriers.world
    world.container.high_risk.add_to(world.root, [("881", None)])
    client = carriers.page(who)
    home = client.get("/portal/").text
    for link in ("/portal/vendors", "/portal/fx", "/portal/fraud"):
        assert f'href="{link}"' not in home
    assert client.get("/portal/vendors").status_code == 403
    assert client.get(f"/portal/vendors/{carriers.vendor}").status_code == 404
    # exchange rates are read by resellers and customers, high-risk lists by resellers
    fx_status = 403 if who == "user_a" else 200
    assert client.get("/portal/fx").status_code == fx_status
    assert client.get("/portal/fraud").status_code == (200 if who == "reseller_a" else 403)
    if fx_status == 200:
        assert "data-write" not in client.get("/portal/fx").text
    csrf = csrf_of(home)
    before = snapshot(world.container)
    for path, data in _posts(carriers):
        status = client.post(path, data={"csrf_token": csrf, **data}).status_code
        expected = 404 if path.startswith("/portal/vendors/") else 403
        assert status == expected, path
    assert snapshot(world.container) == before


def test_a_vendors_own_user_and_a_resellers_support_see_no_vendor_page(
    carriers: Carriers,
) -> None:
    own = carriers.page("vendor_user")
    assert own.get(f"/portal/vendors/{carriers.vendor}").status_code == 403
    assert own.get("/portal/vendors").status_code == 403
    support_a = carriers.page("support_a")  # a reseller's staff, not the operator's
    listing = support_a.get("/portal/vendors")
    assert listing.status_code == 403
    assert "Carrier One" not in listing.text
    assert 'href="/portal/vendors"' not in support_a.get("/portal/").text
    assert support_a.get(f"/portal/vendors/{carriers.vendor}").status_code == 404


def test_support_reads_everything_and_writes_nothing(carriers: Carriers) -> None:
    world = carriers.world
    world.container.high_risk.add_to(world.root, [("881", None)])
    world.container.ledger.set_fx_rate(world.root, "USD", "EUR", Decimal("0.9"))
    client = carriers.page("support")
    for path in (
        "/portal/vendors",
        f"/portal/vendors/{carriers.vendor}",
        "/portal/fx",
        "/portal/fraud",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "data-write" not in page.text, path
        assert not _POST_FORM.findall(page.text.replace('action="/portal/logout"', "")), path
    page = client.get(f"/portal/vendors/{carriers.vendor}").text
    assert "read by the operator's admins" in page  # SIP targets: admin keys only
    assert "<td>4470</td>" in page
    assert "<td>+881</td>" in client.get("/portal/fraud").text
    csrf = csrf_of(page)
    before = snapshot(world.container)
    for path, data in _posts(carriers):
        assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 403, path
    assert snapshot(world.container) == before


def test_every_post_needs_its_csrf_token(carriers: Carriers) -> None:
    world = carriers.world
    world.container.high_risk.add_to(world.root, [("881", None)])
    client = carriers.page("admin")
    before = snapshot(world.container)
    for path, data in _posts(carriers):
        for token in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data={**token, **data})
            assert response.status_code == 403, path
            assert "stale or forged" in response.text
    assert snapshot(world.container) == before
