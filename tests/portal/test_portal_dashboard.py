"""The dashboard and its charts, on SQLite and PostgreSQL (docs/portal.md, "Dashboard and
charts"): exact figures on a small known world, scoped per role, SVG well-formed with a
data table of the very numbers it plots; migration 0025."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.migration import MigrationContext
from portal_world import AT, PASSWORD, World, fund_and_call, sign_in
from sqlalchemy import insert, inspect, text

from voxbill.domain.access import Principal, Role
from voxbill.domain.dashboard import LowBalance, Margin, TrafficPoint, day_window
from voxbill.domain.errors import Forbidden, InvalidInput
from voxbill.domain.rate_deck import read_deck
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions
from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import notify_deliveries, notify_subscriptions, outbox_events

DAY = "2026-03-02"
PBX = CallerId(sip_user="a1-pbx")
_SVG = re.compile(r"<svg .*?</svg>", re.S)
_ROW = re.compile(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td></tr>')


def _figure(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert found is not None, testid
    return found.group(1)


def _system(world: World) -> Principal:
    root = world.container.accounts.visible(
        Principal(world.root, f"/{world.root}/", Role.ADMIN), world.root
    )
    return Principal(root.id, root.path, Role.ADMIN)


def _principal(world: World, account_id: int, role: Role) -> Principal:
    account = world.container.accounts.visible(_system(world), account_id)
    return Principal(account.id, account.path, role)


def _busy_day(world: World) -> None:
    """Reseller A buys at 0.06/min, the carrier sells to the operator at 0.03/min; three
    calls of customer A1 (two on DAY, one the day before) and one still up; customer A1
    alerts below 20; a webhook delivery given up and one waiting to retry."""
    container = world.container
    system = _system(world)
    for plan, rate in (("a-wholesale", "0.06"), ("buy", "0.03")):
        deck = read_deck(f"prefix,rate,destination\n44,{rate},UK\n".splitlines(keepends=True))
        container.rate_import.import_deck(
            deck,
            operator_id=world.root,
            plan=plan,
            source="test",
            options=PlanOptions(currency="USD"),
        )
    container.accounts.patch(system, world.reseller_a, {"rate_plan": "a-wholesale"})
    carrier = container.accounts.create(
        system, {"kind": "vendor", "name": "Carrier", "parent_id": world.root, "rate_plan": "buy"}
    ).id
    container.ledger.top_up(world.reseller_a, Decimal("10"), actor="test")
    container.ledger.top_up(world.customer_a, Decimal("10"), actor="test")
    charging = container.charging
    calls = (
        ("d-1", AT, 60),
        ("d-2", AT + timedelta(seconds=90), 120),
        ("d-0", AT - timedelta(days=1), 60),
    )
    for session, at, seconds in calls:
        charging.start(session, PBX, "+442079460000", at, vendor_id=carrier)
        charging.stop(session, seconds)
    charging.start("d-up", PBX, "+442079460000", AT + timedelta(minutes=5), vendor_id=carrier)
    container.accounts.patch(system, world.customer_a, {"alert_balance": Decimal("20")})
    with container.db.transaction() as conn:
        sub = conn.execute(
            insert(notify_subscriptions).values(
                account_id=world.customer_a,
                channel="webhook",
                target="https://example.com/hook",
                events='["block_reached"]',
                subtree=False,
                created_at=AT,
            )
        ).inserted_primary_key[0]
        for n, status in enumerate(("dead", "failed", "delivered")):
            event = conn.execute(
                insert(outbox_events).values(
                    topic="block_reached", account_id=world.customer_a, payload="{}", created_at=AT
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(notify_deliveries).values(
                    event_id=event,
                    subscription_id=sub,
                    account_id=world.customer_a,
                    event_type="block_reached",
                    status=status,
                    attempts=n + 1,
                    created_at=AT,
                )
            )


def test_the_services_figures_are_exact_and_scoped(world: World) -> None:
    _busy_day(world)
    container = world.container
    start, end = day_window(AT)
    admin = _system(world)
    reseller_a = _principal(world, world.reseller_a, Role.RESELLER)
    reseller_b = _principal(world, world.reseller_b, Role.RESELLER)
    usd = "USD"
    assert container.charging.traffic(admin, start, end) == [
        TrafficPoint(AT, usd, 1, Decimal("0.1")),
        TrafficPoint(AT + timedelta(minutes=1), usd, 1, Decimal("0.2")),
    ]
    assert container.charging.traffic(reseller_a, start, end) == container.charging.traffic(
        admin, start, end
    )
    assert container.charging.traffic(reseller_b, start, end) == []
    # the operator: what reseller A paid (0.06 + 0.12) minus the carrier's (0.03 + 0.06)
    assert container.charging.margins(admin, start, end) == [Margin(usd, Decimal("0.09"), 2)]
    # reseller A: what customer A1 paid it (0.10 + 0.20) minus its own cost (0.18)
    assert container.charging.margins(reseller_a, start, end) == [Margin(usd, Decimal("0.12"), 2)]
    assert container.charging.margins(reseller_b, start, end) == []
    assert container.charging.calls_up(admin) == 1
    assert container.charging.calls_up(reseller_a) == 1
    assert container.charging.calls_up(reseller_b) == 0
    assert container.subscriptions.failed_deliveries(admin) == {"failed": 1, "dead": 1}
    assert container.subscriptions.failed_deliveries(reseller_b) == {"failed": 0, "dead": 0}
    # customer A1: 10 - 0.10 - 0.20 - 0.10 = 9.60 < its alert 20; reseller B, customer B1
    # and the card never funded: 0, at their block balance (the operator, the vendor and
    # the shared user are not listed)
    count, low = container.ledger.low_balances(admin)
    assert count == 4
    assert [(x.account_id, x.funds, x.blocked) for x in low] == [
        (world.card_a, Decimal("0"), True),
        (world.reseller_b, Decimal("0"), True),
        (world.customer_b, Decimal("0"), True),
        (world.customer_a, Decimal("9.6"), False),
    ]
    assert low[-1] == LowBalance(
        world.customer_a, "Customer A1", usd, Decimal("9.6"), Decimal("20"), Decimal("0")
    )
    count_a, low_a = container.ledger.low_balances(reseller_a)
    assert (count_a, [x.account_id for x in low_a]) == (2, [world.card_a, world.customer_a])
    assert container.ledger.low_balances(reseller_a, limit=1)[0] == 2
    customer = _principal(world, world.customer_a, Role.CUSTOMER)
    with pytest.raises(Forbidden):
        container.charging.traffic(customer, start, end)
    with pytest.raises(Forbidden):
        container.ledger.low_balances(customer)
    with pytest.raises(InvalidInput):
        container.charging.margins(admin, start, start + timedelta(days=8))


def test_the_dashboard_page_shows_the_day_of_the_visitors_subtree(world: World) -> None:
    _busy_day(world)
    admin = world.signed_in("admin").get(f"/portal/dashboard?day={DAY}")
    assert admin.status_code == 200, admin.text
    html = admin.text
    assert _figure(html, "calls-up") == "1"
    assert _figure(html, "calls-today") == "2"
    assert _figure(html, "spend-today") == "0.30 USD"
    assert _figure(html, "margin-today") == "0.09 USD"
    assert _figure(html, "low-balances") == "4"
    assert _figure(html, "failed-deliveries") == "1 given up · 1 retrying"
    reseller = world.signed_in("reseller_a").get(f"/portal/dashboard?day={DAY}").text
    assert _figure(reseller, "margin-today") == "0.12 USD"
    assert _figure(reseller, "low-balances") == "2"
    assert "Reseller B" not in reseller
    other = world.signed_in("reseller_b").get(f"/portal/dashboard?day={DAY}").text
    assert (_figure(other, "calls-up"), _figure(other, "calls-today")) == ("0", "0")
    assert _figure(other, "margin-today") == "0"
    support = world.signed_in("support").get(f"/portal/dashboard?day={DAY}")
    assert support.status_code == 200
    assert _figure(support.text, "margin-today") == "0.09 USD"
    assert "data-write" not in support.text
    for who in ("customer_a", "user_a"):
        assert world.signed_in(who).get("/portal/dashboard").status_code == 403
    assert world.signed_in("admin").get("/portal/dashboard?day=2026-13-01").status_code == 422


def test_the_home_page_of_an_overseer_shows_todays_dashboard(world: World) -> None:
    fund_and_call(world)  # a call on another day: today has none
    home = world.signed_in("admin").get("/portal/")
    assert home.status_code == 200
    assert _figure(home.text, "calls-today") == "0"
    assert 'href="/portal/dashboard"' in home.text
    customer = world.signed_in("customer_a").get("/portal/")
    assert customer.status_code == 200
    assert "calls-today" not in customer.text
    assert 'href="/portal/dashboard"' not in customer.text


def _charts(html: str) -> dict[str, ET.Element]:
    found = {}
    for svg in _SVG.findall(html):
        root = ET.fromstring(svg)  # well-formed XML, or this raises
        found[root.attrib["id"]] = root
    return found


def _table(html: str, chart_id: str) -> list[tuple[str, str]]:
    start = html.index(f'data-testid="{chart_id}-data"')
    return _ROW.findall(html[start : html.index("</table>", start)])


def test_charts_are_well_formed_accessible_svg_with_their_numbers(world: World) -> None:
    _busy_day(world)
    html = world.signed_in("admin").get(f"/portal/dashboard?day={DAY}").text
    charts = _charts(html)
    assert set(charts) == {"chart-calls", "chart-spend-usd"}
    ns = "{http://www.w3.org/2000/svg}"
    for chart_id, svg in charts.items():
        assert svg.attrib["role"] == "img"
        assert svg.attrib["aria-label"]
        title, desc = svg.find(f"{ns}title"), svg.find(f"{ns}desc")
        assert title is not None
        assert title.text
        assert title.attrib["id"] == f"{chart_id}-title"
        assert desc is not None
        assert desc.text
        assert desc.attrib["id"] == f"{chart_id}-desc"
        assert svg.find(f"{ns}polyline") is not None
    assert _table(html, "chart-calls") == [("12:00", "1"), ("12:01", "1")]
    assert _table(html, "chart-spend-usd") == [("12:00", "0.1"), ("12:01", "0.2")]
    # each call is a step one minute wide: up at its minute, down a minute later
    points = charts["chart-calls"].find(f"{ns}polyline")
    assert points is not None
    assert len(points.attrib["points"].split()) == 2 + 4 * 2


def test_the_account_page_charts_its_running_balance(world: World) -> None:
    _busy_day(world)
    client = world.signed_in("reseller_a")
    page = client.get(f"/portal/accounts/{world.customer_a}")
    assert page.status_code == 200
    charts = _charts(page.text)
    assert set(charts) == {"chart-balance"}
    entries = world.container.ledger.history(world.customer_a, limit=200)
    expected = [
        (f"{e.created_at:%Y-%m-%d %H:%M:%S} ({e.kind})", str(e.balance_after))
        for e in reversed(entries)
    ]
    assert _table(page.text, "chart-balance")[-1][1] == "9.6"
    assert [(label, Decimal(v)) for label, v in _table(page.text, "chart-balance")] == [
        (label, Decimal(v)) for label, v in expected
    ]
    # another subtree's account page: not found, chart and all
    assert client.get(f"/portal/accounts/{world.customer_b}").status_code == 404
    assert client.get(f"/portal/accounts/{world.customer_b}").text.count("chart-balance") == 0


def test_a_signed_out_visitor_is_sent_to_sign_in(world: World) -> None:
    response = world.client().get("/portal/dashboard")
    assert (response.status_code, response.headers["location"]) == (303, "/portal/login")
    assert sign_in(world.client(), world.emails["admin"], PASSWORD).status_code == 303


def test_0025_up_and_down(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0024")
        upgrade(engine, "0025")
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0025"
        names = {i["name"] for i in inspect(engine).get_indexes("cdrs")}
        postgres = engine.dialect.name == "postgresql"
        assert ("ix_cdrs_path_c" in names, "ix_cdrs_started_path" in names) == (
            postgres,
            postgres,
        )
        if postgres:
            with engine.connect() as conn:
                conn.execute(text("SET enable_seqscan = off"))
                plan = "\n".join(
                    r[0]
                    for r in conn.execute(
                        text("EXPLAIN SELECT id FROM cdrs WHERE path COLLATE \"C\" LIKE '/1/2/%'")
                    )
                )
            assert "ix_cdrs_path_c" in plan, plan  # a prefix range on the "C" index
        migrate.downgrade(engine, "0024")
        names = {i["name"] for i in inspect(engine).get_indexes("cdrs")}
        assert "ix_cdrs_path_c" not in names
        assert "ix_cdrs_started_path" not in names
        assert "ix_cdrs_path" in names
    finally:
        engine.dispose()


def test_the_api_answers_the_same_figures(world: World) -> None:
    _busy_day(world)
    client = world.client()

    def get(account: int, role: Role) -> Any:
        key = world.container.auth.issue_system(account, role).secret
        return client.get(
            f"/api/v1/dashboard?day={DAY}", headers={"Authorization": f"Bearer {key}"}
        )

    admin = get(world.root, Role.ADMIN)
    assert admin.status_code == 200, admin.text
    body = admin.json()
    assert (body["calls_up"], body["calls"], body["spend"]) == (1, 2, {"USD": "0.3"})
    assert body["margins"] == [{"currency": "USD", "amount": "0.09", "calls": 2}]
    assert [m["calls"] for m in body["minutes"]] == [1, 1]
    assert (body["low_balances"], body["failed_deliveries"]) == (4, {"failed": 1, "dead": 1})
    reseller = get(world.reseller_a, Role.RESELLER).json()
    assert reseller["margins"] == [{"currency": "USD", "amount": "0.12", "calls": 2}]
    assert get(world.customer_a, Role.CUSTOMER).status_code == 403
