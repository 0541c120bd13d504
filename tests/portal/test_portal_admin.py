"""The portal's account administration pages over TestClient, on SQLite and PostgreSQL
(docs/portal.md "Account settings", "API keys and identifiers", "Calling cards"): each
page, each write, the API's refusals (4xx page, nothing changed), tenancy (404),
support (no write control, every POST 403) and CSRF (403, nothing changed)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_world import World, csrf_of, form_key_of, snapshot

from voxbill.domain.access import Role
from voxbill.domain.accounts import Account
from voxbill.domain.identifiers import IdentifierType

_POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    """Post ``action`` with the CSRF token of ``page`` (a page of the same session)."""
    html = client.get(page)
    assert html.status_code == 200, html.text
    return client.post(action, data={"csrf_token": csrf_of(html.text), **data})


def _account(world: World, account_id: int) -> Account:
    system = world.container.cards.operator_of(account_id)
    return world.container.accounts.visible(system, account_id)


def _writes(html: str) -> list[str]:
    """The form actions of a page but the sign-out's."""
    return [a for a in _POST_FORM.findall(html) if a != "/portal/logout"]


# -- account settings -------------------------------------------------------------------


def test_admin_edits_a_customer_s_settings_in_one_post(world: World) -> None:
    client = world.signed_in("admin")
    page = f"/portal/accounts/{world.customer_a}/settings"
    html = client.get(page).text
    for name in ("max_call_duration", "max_concurrent_calls", "daily_spend_cap", "credit_limit"):
        assert f'name="{name}"' in html, name
    assert 'name="shared_balance_call_cap"' not in html  # an operator root's field only
    saved = _post(
        client,
        page,
        page,
        {
            "max_call_duration": "600",
            "max_concurrent_calls": "4",
            "hourly_spend_cap": "2.50",
            "daily_spend_cap": "20",
            "high_risk_allowed": "true",
            "alert_balance": "1.5",
            "topup_max": "100",
            "rate_plan": "a-retail",
        },
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("/settings?done=settings")
    account = _account(world, world.customer_a)
    assert account.limits.max_call_duration == 600
    assert account.limits.max_concurrent_calls == 4
    assert account.limits.hourly_spend_cap == Decimal("2.50")
    assert account.limits.daily_spend_cap == Decimal("20")
    assert account.limits.high_risk_allowed is True
    assert account.limits.topup_max == Decimal("100")
    assert account.balance.alert_balance == Decimal("1.5")
    # an empty optional field clears it
    assert _post(client, page, page, {"daily_spend_cap": ""}).status_code == 303
    assert _account(world, world.customer_a).limits.daily_spend_cap is None


def test_an_account_edits_only_its_name_and_timezone_on_itself(world: World) -> None:
    client = world.signed_in("customer_a")
    page = f"/portal/accounts/{world.customer_a}/settings"
    html = client.get(page).text
    assert 'name="name"' in html
    assert 'name="timezone"' in html
    assert 'name="credit_limit"' not in html
    assert 'name="max_call_duration"' not in html
    assert _post(client, page, page, {"name": "Customer A1 Ltd"}).status_code == 303
    assert _account(world, world.customer_a).name == "Customer A1 Ltd"
    before = snapshot(world.container)
    forged = _post(client, page, page, {"name": "X", "max_call_duration": "99999"})
    assert forged.status_code == 403
    assert "cannot change its own max_call_duration" in forged.text
    assert snapshot(world.container) == before  # the name was not changed either


def test_a_customer_edits_its_users_limits(world: World) -> None:
    client = world.signed_in("customer_a")
    account_page = client.get(f"/portal/accounts/{world.customer_a}").text
    table = account_page.split('data-testid="extensions"')[1].split("</table>")[0]
    assert "User A1u" in table
    assert f"/portal/accounts/{world.user_a}/settings" in table
    page = f"/portal/accounts/{world.user_a}/settings"
    assert 'name="max_call_duration"' in client.get(page).text
    data = {"max_call_duration": "120", "max_concurrent_calls": "1", "daily_spend_cap": "3"}
    assert _post(client, page, page, data).status_code == 303
    user = _account(world, world.user_a)
    assert (user.limits.max_call_duration, user.limits.max_concurrent_calls) == (120, 1)
    assert user.limits.daily_spend_cap == Decimal("3")
    table = client.get(f"/portal/accounts/{world.customer_a}").text
    assert ">120<" in table.split('data-testid="extensions"')[1]
    # the user itself: its name and timezone only
    user_client = world.signed_in("user_a")
    own = user_client.get(page).text
    assert 'name="name"' in own
    assert 'name="max_call_duration"' not in own


_BAD_SETTINGS = [
    ({"credit_limit": "50"}, 422, "prepaid account has no credit limit"),
    ({"max_call_duration": "abc"}, 422, "max_call_duration"),
    ({"max_call_duration": "60", "daily_spend_cap": "-1"}, 422, "daily_spend_cap"),
    ({"billing": ""}, 422, "billing cannot be null"),
    ({"timezone": "Mars/Olympus"}, 422, "unknown timezone"),
    ({"rate_plan": "b-retail", "max_call_duration": "5"}, 422, "rate plan"),
    ({"low_balance_concurrent_calls": "5", "max_concurrent_calls": "2"}, 422, "exceeds"),
    ({"frobnicate": "1"}, 422, "nothing to change"),
]


def test_bad_settings_are_a_4xx_page_and_nothing_is_applied(world: World) -> None:
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}/settings"
    before = snapshot(world.container)
    for data, status, message in _BAD_SETTINGS:
        response = _post(client, page, page, data)
        assert response.status_code == status, (data, response.text)
        assert message in response.text, data
    assert snapshot(world.container) == before


# -- API keys and identifiers -------------------------------------------------------------


def test_keys_are_issued_shown_once_listed_and_revoked(world: World) -> None:
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}/keys"
    html = client.get(page).text
    options = re.findall(r'<option value="([a-z]+)">', html)
    assert options == ["customer", "support"]  # ISSUABLE for a reseller, as the kind takes
    issued = _post(client, page, page, {"role": "customer", "label": "billing robot"})
    assert issued.status_code == 201, issued.text
    secret = re.search(r'data-testid="api-key">([^<]+)<', issued.text)
    assert secret is not None
    principal = world.container.auth.authenticate(secret.group(1))
    assert (principal.account_id, principal.role) == (world.customer_a, Role.CUSTOMER)
    listed = client.get(page).text
    assert "billing robot" in listed
    assert secret.group(1) not in listed  # never shown again
    (key,) = world.container.auth.keys(principal, world.customer_a)
    revoke = f"{page}/{key.id}/revoke"
    assert revoke in listed
    done = _post(client, page, revoke, {})
    assert done.status_code == 303
    (after,) = world.container.auth.keys(principal, world.customer_a)
    assert after.revoked_at is not None
    assert revoke not in client.get(page).text


def test_a_key_outside_the_issuable_rules_is_refused(world: World) -> None:
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}/keys"
    before = snapshot(world.container)
    assert _post(client, page, page, {"role": "admin"}).status_code == 403
    assert _post(client, page, page, {"role": "user"}).status_code == 422  # kind mismatch
    assert _post(client, page, page, {"role": "wizard"}).status_code == 422
    user = world.signed_in("user_a")
    other = f"/portal/accounts/{world.user_a}/keys"
    assert re.findall(r'<option value="([a-z]+)">', user.get(other).text) == ["user"]
    assert snapshot(world.container) == before


def test_identifiers_are_listed_added_and_removed(world: World) -> None:
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.customer_a}/identifiers"
    assert "a1-pbx" in client.get(page).text
    added = _post(client, page, page, {"type": "ip", "value": "192.0.2.10"})
    assert added.status_code == 303, added.text
    system = world.container.cards.operator_of(world.customer_a)
    found = {i.value: i.id for i in world.container.identifiers.list(system, world.customer_a)}
    assert "192.0.2.10/32" in found
    before = snapshot(world.container)
    refused = {
        "network": {"type": "ip", "value": "0.0.0.0/0"},
        "pin on an ip": {"type": "ip", "value": "192.0.2.11", "pin": "1234"},
        "type": {"type": "fax", "value": "x"},
    }
    for what, data in refused.items():
        assert _post(client, page, page, data).status_code == 422, what
    assert _post(client, page, page, {"type": "sip_user", "value": "a1-pbx"}).status_code == 409
    assert snapshot(world.container) == before
    remove = f"{page}/{found['192.0.2.10/32']}/remove"
    assert remove in client.get(page).text
    assert _post(client, page, remove, {}).status_code == 303
    listed = world.container.identifiers.list(system, world.customer_a)
    assert [i.value for i in listed] == ["a1-pbx"]
    # a PIN is set with a card number, and never shown
    card_page = f"/portal/accounts/{world.card_a}/identifiers"
    data = {"type": "card", "value": "700100200399", "pin": "98765"}
    assert _post(client, card_page, card_page, data).status_code == 303
    assert "98765" not in client.get(card_page).text


def test_a_user_sees_its_identifiers_but_may_not_change_them(world: World) -> None:
    client = world.signed_in("user_a")
    page = f"/portal/accounts/{world.user_a}/identifiers"
    html = client.get(page)
    assert html.status_code == 200
    assert _writes(html.text) == []
    before = snapshot(world.container)
    assert _post(client, page, page, {"type": "ani", "value": "+442079460001"}).status_code == 403
    assert snapshot(world.container) == before


# -- calling cards ------------------------------------------------------------------------


def _generate(world: World, who: str, owner: int, **extra: str) -> tuple[TestClient, Any]:
    client = world.signed_in(who)
    data = {"owner_id": str(owner), "count": "3", "face_value": "5", "pin_length": "8", **extra}
    return client, _post(client, "/portal/cards", "/portal/cards", data)


def test_admin_generates_activates_deactivates_and_exports_a_batch(world: World) -> None:
    client, created = _generate(world, "admin", world.customer_a, name="Spring")
    assert created.status_code == 201, created.text
    printer = re.search(r'data-testid="printer-csv">([^<]+)<', created.text)
    assert printer is not None
    lines = printer.group(1).strip().splitlines()
    assert lines[0].startswith("serial,pin,face_value,currency")
    assert len(lines) == 4
    pins = [line.split(",")[1] for line in lines[1:]]
    assert all(len(pin) == 8 and pin.isdigit() for pin in pins)
    assert "data:text/csv" in created.text
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    listed = client.get("/portal/cards").text
    assert f"/portal/cards/{batch.id}" in listed
    assert "Spring" in listed
    page = f"/portal/cards/{batch.id}"
    html = client.get(page).text
    assert 'data-testid="inactive">3<' in html
    for pin in pins:
        assert pin not in html
    activated = _post(client, page, f"{page}/activate", {})
    assert activated.status_code == 303
    assert "3+activated,+3+funded" in activated.headers["location"]
    assert 'data-testid="active">3<' in client.get(page).text
    _, cards = world.container.cards.serials(
        world.container.cards.operator_of(world.root), batch.id
    )
    assert world.balance(cards[0].account_id) == Decimal("5")
    span = {"from_serial": batch.first_serial, "to_serial": batch.first_serial}
    assert _post(client, page, f"{page}/deactivate", span).status_code == 303
    again = _post(client, page, f"{page}/activate", {})
    assert "1+activated,+0+funded" in again.headers["location"]  # funded once, ever
    assert world.balance(cards[0].account_id) == Decimal("5")
    export = client.get(f"{page}/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    header, *rows = export.text.strip().splitlines()
    assert header == "serial,state,face_value,currency,activated_at,expires_at"
    assert len(rows) == 3
    for pin in pins:
        assert f",{pin}," not in export.text


def test_a_customer_generates_its_own_cards_paid_from_its_balance(world: World) -> None:
    world.container.ledger.top_up(world.customer_a, Decimal("20"), actor="test")
    client, created = _generate(world, "customer_a", world.customer_a)
    assert created.status_code == 201, created.text
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    page = f"/portal/cards/{batch.id}"
    assert _post(client, page, f"{page}/activate", {}).status_code == 303
    assert world.balance(world.customer_a) == Decimal("5")
    # the operator's books are an admin's to spend
    before = snapshot(world.container)
    _, refused = _generate(world, "customer_a", world.customer_a, funding="operator")
    assert refused.status_code == 403
    assert snapshot(world.container) == before


def test_a_generate_form_posted_twice_makes_one_batch(world: World) -> None:
    client = world.signed_in("admin")
    html = client.get("/portal/cards").text
    key = form_key_of(html)
    data = {
        "csrf_token": csrf_of(html),
        "form_key": key,
        "owner_id": str(world.customer_a),
        "count": "2",
        "face_value": "5",
        "pin_length": "8",
    }
    first = client.post("/portal/cards", data=data)
    assert first.status_code == 201, first.text
    assert 'data-testid="printer-csv"' in first.text
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    before = snapshot(world.container)
    # the same form again (a double click, a reload): the batch's page, nothing made
    again = client.post("/portal/cards", data=data, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith(f"/portal/cards/{batch.id}?done=already")
    assert snapshot(world.container) == before
    shown = client.get(again.headers["location"])
    assert shown.status_code == 200
    assert "already generated by this form" in shown.text
    # its key with other values: refused, nothing made
    other = client.post("/portal/cards", data={**data, "count": "3"})
    assert other.status_code == 409
    assert snapshot(world.container) == before
    # a fresh form: a new batch
    html = client.get("/portal/cards").text
    assert form_key_of(html) != key
    fresh = client.post(
        "/portal/cards", data={**data, "csrf_token": csrf_of(html), "form_key": form_key_of(html)}
    )
    assert fresh.status_code == 201
    assert len(world.container.cards.batches(world.container.cards.operator_of(world.root))) == 2


def test_an_unused_batch_is_deleted_from_its_page(world: World) -> None:
    before = snapshot(world.container)
    client, created = _generate(world, "admin", world.customer_a)
    assert created.status_code == 201, created.text
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    page = f"/portal/cards/{batch.id}"
    assert f'action="{page}/delete"' in client.get(page).text
    deleted = _post(client, page, f"{page}/delete", {})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/portal/cards?done=batch+{batch.id}+deleted"
    assert client.get(page).status_code == 404
    assert snapshot(world.container) == before
    # an activated batch has no delete button, and its deletion is refused (409 page)
    client, created = _generate(world, "admin", world.customer_a)
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    page = f"/portal/cards/{batch.id}"
    assert _post(client, page, f"{page}/activate", {}).status_code == 303
    assert _post(client, page, f"{page}/deactivate", {}).status_code == 303
    html = client.get(page).text
    assert f'action="{page}/delete"' not in html
    kept = snapshot(world.container)
    refused = client.post(f"{page}/delete", data={"csrf_token": csrf_of(html)})
    assert refused.status_code == 409
    assert "in use" in refused.text
    assert snapshot(world.container) == kept
    # a reseller sees the operator's batch under its customer but may not delete it
    reseller = world.signed_in("reseller_a")
    assert f'action="{page}/delete"' not in reseller.get(page).text


_BAD_BATCHES = [
    {"count": "0"},
    {"count": "1001"},
    {"face_value": "-5"},
    {"face_value": "five"},
    {"pin_length": "4"},
    {"expires_at": "2001-01-01"},
    {"expires_at": "soon"},
    {"rate_plan": "no-such-plan"},
    {"owner_id": "0"},
]


def test_bad_batches_are_refused_and_nothing_is_generated(world: World) -> None:
    before = snapshot(world.container)
    for data in _BAD_BATCHES:
        _, response = _generate(world, "admin", world.customer_a, **data)
        assert response.status_code == 422, (data, response.text)
    assert snapshot(world.container) == before


def test_a_user_has_no_cards_page_controls(world: World) -> None:
    client = world.signed_in("user_a")
    html = client.get("/portal/cards").text
    assert _writes(html) == []
    assert 'href="/portal/cards"' not in html.split("</nav>")[0]


# -- tenancy, support, CSRF on every new route ---------------------------------------------


def _new_routes(
    world: World, account: int, batch: int
) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """The new pages and forms over ``account`` and ``batch``, with a key and an
    identifier of the account's to revoke and remove."""
    system = world.container.cards.operator_of(account)
    key = world.container.auth.issue_system(account, Role.CUSTOMER).record.id
    ident = world.container.identifiers.add(
        system, account, IdentifierType.ANI, f"+4420794{account:05d}", None
    ).id
    pages = [
        f"/portal/accounts/{account}/settings",
        f"/portal/accounts/{account}/keys",
        f"/portal/accounts/{account}/identifiers",
        f"/portal/cards/{batch}",
        f"/portal/cards/{batch}/export",
    ]
    posts = [
        (f"/portal/accounts/{account}/settings", {"max_call_duration": "1"}),
        (f"/portal/accounts/{account}/keys", {"role": "customer"}),
        (f"/portal/accounts/{account}/keys/{key}/revoke", {}),
        (f"/portal/accounts/{account}/identifiers", {"type": "ani", "value": "+442079460009"}),
        (f"/portal/accounts/{account}/identifiers/{ident}/remove", {}),
        ("/portal/cards", {"owner_id": str(account), "count": "1", "face_value": "1"}),
        (f"/portal/cards/{batch}/activate", {}),
        (f"/portal/cards/{batch}/deactivate", {}),
        (f"/portal/cards/{batch}/delete", {}),
    ]
    return pages, posts


def _batch_of_customer_b(world: World) -> int:
    _, created = _generate(world, "admin", world.customer_b)
    assert created.status_code == 201, created.text
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    return batch.id


@pytest.mark.parametrize("who", ["reseller_a", "customer_a", "support_a"])
def test_another_subtree_is_404_on_every_new_page_and_form(world: World, who: str) -> None:
    batch = _batch_of_customer_b(world)
    client = world.signed_in(who)
    pages, posts = _new_routes(world, world.customer_b, batch)
    # another subtree's key and identifier named under an account the visitor sees
    theirs = [path for path, _ in posts if path.endswith(("/revoke", "/remove"))]
    here = (f"/accounts/{world.customer_b}/", f"/accounts/{world.customer_a}/")
    posts += [(path.replace(*here), {}) for path in theirs]
    for path in pages:
        assert client.get(path).status_code == 404, path
    assert f"/portal/cards/{batch}" not in client.get("/portal/cards").text
    csrf = csrf_of(client.get("/portal/").text)
    before = snapshot(world.container)
    # a support sign-in's every write is refused read-only (403) before the object is read
    refused = 403 if who == "support_a" else 404
    for path, data in posts:
        response = client.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == refused, (path, response.status_code)
    assert snapshot(world.container) == before


def test_support_sees_every_page_with_no_write_control_and_every_post_is_403(
    world: World,
) -> None:
    _, created = _generate(world, "admin", world.customer_a)
    assert created.status_code == 201
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    client = world.signed_in("support_a")
    pages, posts = _new_routes(world, world.customer_a, batch.id)
    for path in [*pages[:4], "/portal/cards", f"/portal/accounts/{world.customer_a}"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _writes(response.text) == [], path
    assert client.get(pages[4]).status_code == 200  # the export is a read
    csrf = csrf_of(client.get("/portal/").text)
    before = snapshot(world.container)
    for path, data in posts:
        response = client.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == 403, (path, response.status_code)
    assert snapshot(world.container) == before


def test_a_form_without_a_valid_csrf_token_changes_nothing(world: World) -> None:
    _, created = _generate(world, "admin", world.customer_a)
    assert created.status_code == 201
    (batch,) = world.container.cards.batches(world.container.cards.operator_of(world.root))
    client = world.signed_in("admin")
    other_csrf = csrf_of(world.signed_in("reseller_a").get("/portal/").text)
    _, posts = _new_routes(world, world.customer_a, batch.id)
    before = snapshot(world.container)
    for path, data in posts:
        for token in ("forged", other_csrf, None):
            sent = data if token is None else {"csrf_token": token, **data}
            assert client.post(path, data=sent).status_code == 403, (path, token)
    assert snapshot(world.container) == before
