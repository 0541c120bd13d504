"""The portal over TestClient, on SQLite and PostgreSQL (docs/portal.md): sign-in, the
pages per role, the forms, tenancy (404), support (no write control, 403), CSRF (403,
nothing changed), throttling, session expiry and sign-out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from portal_world import (
    CARD,
    PASSWORD,
    World,
    csrf_of,
    form_key_of,
    fund_and_call,
    post_form,
    sign_in,
    snapshot,
)

from voxbill.services.access.failures import InProcessAuthFailures
from voxbill.services.access.portal import PortalSessions

_POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


def test_root_redirects_and_pages_need_a_session(world: World) -> None:
    client = world.client()
    root = client.get("/")
    assert (root.status_code, root.headers["location"]) == (302, "/portal/")
    for path in ("/portal/", "/portal/accounts", "/portal/rates", "/portal/cdrs"):
        response = client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/portal/login")
    page = client.get("/portal/login")
    assert page.status_code == 200
    assert 'name="email"' in page.text
    assert 'name="password"' in page.text
    assert 'name="card"' in page.text
    assert 'name="pin"' in page.text
    assert client.get("/portal/static/htmx.min.js").status_code == 200
    assert client.get("/api/v1/accounts").status_code == 401  # the API still wants a key


def test_session_cookie_flags(world: World) -> None:
    client = world.client()
    response = sign_in(client, world.emails["admin"], PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/portal" in cookie
    assert "secure" not in cookie  # over http unless portal_secure_cookie
    settings = world.container.settings.model_copy(update={"portal_secure_cookie": True})
    world.container.settings = settings
    secure = sign_in(world.client(), world.emails["admin"], PASSWORD)
    assert "secure" in secure.headers["set-cookie"].lower()


def test_wrong_password_and_stale_login_form(world: World) -> None:
    client = world.client()
    assert sign_in(client, world.emails["admin"], "wrong password").status_code == 401
    assert sign_in(client, "nobody@example.com", PASSWORD).status_code == 401
    forged = world.client().post(
        "/portal/login", data={"email": world.emails["admin"], "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers


def test_admin_sees_the_whole_tree_and_searches_it(world: World) -> None:
    client = world.signed_in("admin")
    home = client.get("/portal/")
    assert home.status_code == 200
    assert 'data-testid="in-scope">6<' in home.text
    tree = client.get("/portal/accounts").text
    for name in ("Reseller A", "Customer A1", "Reseller B", "Customer B1"):
        assert name in tree
    partial = client.get(
        "/portal/accounts", params={"after_id": world.reseller_a}, headers={"HX-Request": "true"}
    )
    assert "<html" not in partial.text  # htmx asks for the next rows only
    assert "<tr>" in partial.text
    assert "Reseller A<" not in partial.text
    found = client.get("/portal/accounts", params={"q": "customer"}).text
    assert "Customer A1" in found
    assert "Customer B1" in found
    assert "Reseller A" not in found


def test_reseller_sees_only_its_subtree(world: World) -> None:
    client = world.signed_in("reseller_a")
    tree = client.get("/portal/accounts").text
    assert "Customer A1" in tree
    assert "Reseller B" not in tree
    assert "Customer B1" not in tree


@pytest.mark.parametrize("who", ["reseller_a", "customer_a", "user_a", "support_a"])
def test_another_subtree_is_404_on_every_page(world: World, who: str) -> None:
    client = world.signed_in(who)
    other = world.customer_b
    for path in (
        f"/portal/accounts/{other}",
        f"/portal/cdrs?account_id={other}",
        f"/portal/cdrs.csv?account_id={other}",
    ):
        assert client.get(path).status_code == 404, path
    csrf = csrf_of(client.get("/portal/").text)
    before = snapshot(world.container)
    for action, data in (
        ("top-up", {"amount": "5"}),
        ("transfer", {"amount": "5"}),
        ("adjust", {"amount": "5", "reason": "x"}),
        ("status", {"status": "blocked"}),
        ("children", {"name": "X", "kind": "user"}),
        ("users", {"email": "x@example.com", "role": "user"}),
    ):
        response = client.post(
            f"/portal/accounts/{other}/{action}", data={"csrf_token": csrf, **data}
        )
        assert response.status_code in (403, 404), (action, response.status_code)
        if who != "support_a":
            assert response.status_code == 404, action
    assert snapshot(world.container) == before


def test_support_sees_no_write_control_and_every_write_is_403(world: World) -> None:
    client = world.signed_in("support_a")
    pages = ["/portal/", "/portal/accounts", "/portal/rates", "/portal/cdrs"]
    pages += [f"/portal/accounts/{a}" for a in (world.reseller_a, world.customer_a)]
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        assert _POST_FORM.findall(page.text) == ["/portal/logout"], path
        assert "data-write" not in page.text
    csrf = csrf_of(client.get("/portal/").text)
    before = snapshot(world.container)
    for action, data in (
        ("top-up", {"amount": "5"}),
        ("transfer", {"amount": "5"}),
        ("adjust", {"amount": "5", "reason": "x"}),
        ("status", {"status": "blocked"}),
        ("children", {"name": "X", "kind": "user"}),
        ("users", {"email": "x@example.com", "role": "user"}),
    ):
        response = client.post(
            f"/portal/accounts/{world.customer_a}/{action}", data={"csrf_token": csrf, **data}
        )
        assert response.status_code == 403, (action, response.text)
    assert snapshot(world.container) == before


def test_a_form_without_a_valid_csrf_token_changes_nothing(world: World) -> None:
    client = world.signed_in("admin")
    path = f"/portal/accounts/{world.customer_a}/top-up"
    before = snapshot(world.container)
    assert client.post(path, data={"amount": "5"}).status_code == 403
    assert client.post(path, data={"amount": "5", "csrf_token": "forged"}).status_code == 403
    other = world.signed_in("admin")  # another session's token is not this one's
    other_csrf = csrf_of(other.get("/portal/").text)
    assert client.post(path, data={"amount": "5", "csrf_token": other_csrf}).status_code == 403
    logout = client.post("/portal/logout", data={})
    assert logout.status_code == 403
    assert snapshot(world.container) == before
    assert client.get("/portal/").status_code == 200  # still signed in


def test_admin_tops_up_once_per_form(world: World) -> None:
    client = world.signed_in("admin")
    page = client.get(f"/portal/accounts/{world.customer_a}").text
    data = {"csrf_token": csrf_of(page), "form_key": form_key_of(page), "amount": "12.50"}
    path = f"/portal/accounts/{world.customer_a}/top-up"
    for _ in range(2):  # the same form posted twice moves the money once
        response = client.post(path, data=data)
        assert response.status_code == 303, response.text
    assert world.balance(world.customer_a) == Decimal("12.50")
    assert "12.50" in client.get(f"/portal/accounts/{world.customer_a}").text
    assert world.container.ledger.verify() == []


def test_an_amount_storage_cannot_hold_is_refused_and_changes_nothing(world: World) -> None:
    client = world.signed_in("admin")
    page = client.get(f"/portal/accounts/{world.customer_a}").text
    before = snapshot(world.container)
    for amount in ("1E+60", "1E+25", "1000000000000000", "0.000000001", "abc", "NaN"):
        data = {"csrf_token": csrf_of(page), "form_key": form_key_of(page), "amount": amount}
        for action in ("top-up", "adjust"):
            response = client.post(
                f"/portal/accounts/{world.customer_a}/{action}", data={**data, "reason": "x"}
            )
            assert 400 <= response.status_code < 500, (action, amount, response.text)
    assert snapshot(world.container) == before


def test_reseller_creates_a_customer_and_funds_it(world: World) -> None:
    world.container.ledger.top_up(world.reseller_a, Decimal("100"), actor="test")
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.reseller_a}"
    created = post_form(
        client,
        f"/portal/accounts/{world.reseller_a}/children",
        {"name": "Customer A2", "kind": "customer"},
        page,
    )
    assert created.status_code == 303, created.text
    new_page = created.headers["location"].split("?")[0]
    new_id = int(new_page.rsplit("/", 1)[1])
    html = client.get(new_page).text
    assert "Customer A2" in html
    assert "/transfer" in html
    assert "/top-up" not in html
    moved = client.post(
        f"{new_page}/transfer",
        data={"csrf_token": csrf_of(html), "form_key": form_key_of(html), "amount": "30"},
    )
    assert moved.status_code == 303, moved.text
    assert world.balance(new_id) == Decimal("30")
    assert world.balance(world.reseller_a) == Decimal("70")
    # a reseller may not top up (operator money): refused, nothing moved
    refused = client.post(f"{new_page}/top-up", data={"csrf_token": csrf_of(html), "amount": "1"})
    assert refused.status_code == 403
    assert world.balance(new_id) == Decimal("30")


def test_block_and_unblock(world: World) -> None:
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}"
    path = f"{page}/status"
    assert post_form(client, path, {"status": "blocked"}, page).status_code == 303
    assert 'data-testid="status">blocked<' in client.get(page).text
    assert post_form(client, path, {"status": "active"}, page).status_code == 303
    assert 'data-testid="status">active<' in client.get(page).text
    own = f"/portal/accounts/{world.reseller_a}"
    assert post_form(client, f"{own}/status", {"status": "blocked"}, own).status_code == 403


def test_customer_sees_its_calls_and_exports_them(world: World) -> None:
    fund_and_call(world)
    client = world.signed_in("customer_a")
    home = client.get("/portal/").text
    assert "442079460000" in home
    page = client.get("/portal/cdrs").text
    assert "442079460000" in page
    export = client.get("/portal/cdrs.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("id,session_id,account_id")
    assert len(lines) == 2
    assert "portal-call-1" in lines[1]
    other = world.signed_in("reseller_b")
    assert len(other.get("/portal/cdrs.csv").text.strip().splitlines()) == 1  # header only


def test_user_checks_its_balance_and_a_rate(world: World) -> None:
    world.container.ledger.top_up(world.customer_a, Decimal("7"), actor="test")
    client = world.signed_in("user_a")
    home = client.get("/portal/").text
    assert 'data-testid="balance">7.00' in home  # the customer's balance, which it shares
    rates = client.get("/portal/rates", params={"number": "+447911123456"}).text
    assert 'data-testid="rate">0.10' in rates
    assert "UK" in rates
    assert client.get(f"/portal/accounts/{world.customer_a}").status_code == 404


def test_card_holder_signs_in_with_number_and_pin(world: World) -> None:
    client = world.client()
    csrf = csrf_of(client.get("/portal/login").text)
    wrong = client.post("/portal/login", data={"csrf_token": csrf, "card": CARD[0], "pin": "0000"})
    assert wrong.status_code == 401
    right = client.post("/portal/login", data={"csrf_token": csrf, "card": CARD[0], "pin": CARD[1]})
    assert right.status_code == 303, right.text
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "card …0300" in home.text


def test_login_is_throttled_per_email_and_per_address(world: World) -> None:
    failures = InProcessAuthFailures(limit=3, window=600)
    world.container.portal = PortalSessions(
        world.container.uow,
        world.container.settings,
        auth=world.container.auth,
        identifiers=world.container.identifiers,
        failures=failures,
    )
    client = world.client()
    email = world.emails["customer_a"]
    for _ in range(3):
        assert sign_in(client, email, "wrong password").status_code == 401
    throttled = sign_in(client, email, PASSWORD)  # the right password, refused unchecked
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    # the address is over its limit too: another email from it waits as well
    assert sign_in(client, world.emails["admin"], PASSWORD).status_code == 429


def test_sessions_expire_when_idle_and_after_their_lifetime(world: World) -> None:
    now = [datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]
    world.container.portal.clock = lambda: now[0]
    settings = world.container.settings
    idle = timedelta(seconds=settings.portal_idle_seconds)
    client = world.signed_in("admin")
    now[0] += idle - timedelta(seconds=1)
    assert client.get("/portal/").status_code == 200  # seen: the idle clock restarts
    now[0] += idle - timedelta(seconds=1)
    assert client.get("/portal/").status_code == 200
    now[0] += idle
    assert client.get("/portal/").status_code == 303  # idle too long

    client = world.signed_in("admin")
    end = now[0] + timedelta(seconds=settings.portal_session_seconds)
    while now[0] + idle / 2 < end:  # busy all along
        now[0] += idle / 2
        assert client.get("/portal/").status_code == 200
    now[0] = end
    assert client.get("/portal/").status_code == 303  # past its lifetime


def test_logout_ends_the_session(world: World) -> None:
    client = world.signed_in("admin")
    token = client.cookies.get("voxbill_session")
    assert token
    out = post_form(client, "/portal/logout", {}, "/portal/")
    assert (out.status_code, out.headers["location"]) == (303, "/portal/login")
    again = world.client()
    again.cookies.set("voxbill_session", token, path="/portal")
    assert again.get("/portal/").status_code == 303  # the old cookie is dead


def test_a_disabled_parent_chain_reads_only(world: World) -> None:
    admin = world.signed_in("admin")
    page = f"/portal/accounts/{world.reseller_a}"
    assert post_form(admin, f"{page}/status", {"status": "blocked"}, page).status_code == 303
    client = world.signed_in("reseller_a")
    html = client.get(f"/portal/accounts/{world.customer_a}").text
    assert "data-write" not in html  # a blocked chain's users may only read
    refused = client.post(
        f"/portal/accounts/{world.customer_a}/status",
        data={"csrf_token": csrf_of(html), "status": "blocked"},
    )
    assert refused.status_code == 403


def test_a_parent_gives_a_user_a_new_password(world: World) -> None:
    user_client = world.signed_in("customer_a")
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}"
    html = client.get(page).text
    assert world.emails["customer_a"] in html
    action = re.search(r'action="(/portal/accounts/\d+/users/\d+/password)"', html)
    assert action is not None
    reset = client.post(action.group(1), data={"csrf_token": csrf_of(html)})
    assert reset.status_code == 200, reset.text
    found = re.search(r'data-testid="password">([^<]+)<', reset.text)
    assert found is not None
    assert user_client.get("/portal/").status_code == 303  # its sessions ended
    assert sign_in(world.client(), world.emails["customer_a"], PASSWORD).status_code == 401
    new = sign_in(world.client(), world.emails["customer_a"], found.group(1))
    assert new.status_code == 303
    # support: no such control, and the route refuses; another subtree: 404
    support = world.signed_in("support_a")
    support_html = support.get(page).text
    assert "/password" not in support_html
    refused = support.post(action.group(1), data={"csrf_token": csrf_of(support_html)})
    assert refused.status_code == 403
    other = world.signed_in("reseller_b")
    elsewhere = other.post(
        action.group(1), data={"csrf_token": csrf_of(other.get("/portal/").text)}
    )
    assert elsewhere.status_code == 404
