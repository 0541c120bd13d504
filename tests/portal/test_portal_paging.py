"""Every list of an account's pages is read a page at a time, by id (docs/portal.md
"Lists"): API keys, caller identifiers, portal users, accounts directly below and
subscriptions, on SQLite and PostgreSQL. A full page links to the next one (its
``after_id``), the last page has no such link, a page of exactly ``PAGE`` rows is the
last one too, and another subtree's account is 404 whatever the cursor."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape, unescape
from itertools import count as numbers

import pytest
from fastapi.testclient import TestClient
from portal_world import World, csrf_of

from voxbill.domain.access import Principal, Role
from voxbill.domain.identifiers import IdentifierType
from voxbill.domain.money import RoundingMethod
from voxbill.domain.notify import Channel
from voxbill.portal.pages import rates
from voxbill.portal.pages.common import PAGE

_ROW_ID = re.compile(r'<tr data-id="(\d+)"')
_SERIAL = numbers()  # distinct values for every row made


def _system(world: World) -> Principal:
    return Principal(world.root, f"/{world.root}/", Role.ADMIN)


def _table(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


def _ids(html: str, testid: str) -> list[int]:
    return [int(i) for i in _ROW_ID.findall(_table(html, testid))]


def _next(html: str, link: str) -> str | None:
    """The href of the page's "next" link whose text is ``link`` (None: no next page)."""
    found = re.search(rf'<a href="([^"]+)" rel="next">{link}</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _walk(client: TestClient, first: str, testid: str, link: str) -> list[list[int]]:
    """The ids of every page of one list, following its "next" links from ``first``."""
    pages: list[list[int]] = []
    url: str | None = first
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        pages.append(_ids(answer.text, testid))
        url = _next(answer.text, link)
        assert len(pages) < 10
    return pages


def _add_keys(world: World, count: int) -> list[int]:
    return [
        world.container.auth.issue(
            _system(world), world.customer_a, Role.CUSTOMER, f"k{n}"
        ).record.id
        for n in (next(_SERIAL) for _ in range(count))
    ]


def _add_identifiers(world: World, count: int) -> list[int]:
    add = world.container.identifiers.add
    return [
        add(_system(world), world.customer_a, IdentifierType.ANI, f"1555010{n:04d}", None).id
        for n in (next(_SERIAL) for _ in range(count))
    ]


def _add_users(world: World, count: int) -> list[int]:
    with world.container.uow.transaction() as tx:  # no argon2 for each: a stored hash
        return [
            tx.access.insert_portal_user(
                account_id=world.customer_a,
                email=f"paged-{n}@example.com",
                password_hash="x",
                role=Role.USER,
            )
            for n in (next(_SERIAL) for _ in range(count))
        ]


def _add_children(world: World, count: int) -> list[int]:
    create = world.container.accounts.create
    fields = {"kind": "user", "parent_id": world.customer_a}
    serials = [next(_SERIAL) for _ in range(count)]
    return [create(_system(world), {**fields, "name": f"Paged {n}"}).id for n in serials]


def _add_subscriptions(world: World, count: int) -> list[int]:
    create = world.container.subscriptions.create
    return [
        create(
            _system(world),
            world.customer_a,
            channel=Channel.EMAIL,
            target=f"paged-{n}@example.com",
            events=["topup.received"],
            subtree=False,
        ).subscription.id
        for n in (next(_SERIAL) for _ in range(count))
    ]


#: list: (page, its table, its "next" link, the rows there before, a maker of more)
LISTS: dict[str, tuple[str, str, str, Callable[[World], list[int]], Callable[..., list[int]]]] = {
    "keys": (
        "/portal/accounts/{a}/keys",
        "keys",
        "Next keys",
        lambda w: [k.id for k in w.container.auth.keys(_system(w), w.customer_a)],
        _add_keys,
    ),
    "identifiers": (
        "/portal/accounts/{a}/identifiers",
        "identifiers",
        "Next identifiers",
        lambda w: [i.id for i in w.container.identifiers.list(_system(w), w.customer_a)],
        _add_identifiers,
    ),
    "portal users": (
        "/portal/accounts/{a}",
        "users",
        "Next portal users",
        lambda w: [u.id for u in w.container.auth.portal_users(_system(w), w.customer_a)],
        _add_users,
    ),
    "accounts below": (
        "/portal/accounts/{a}",
        "children",
        "Next accounts below",
        lambda w: [
            c.id
            for c in w.container.accounts.children(
                _system(w), w.customer_a, after_id=None, limit=1000
            )
        ],
        _add_children,
    ),
    "subscriptions": (
        "/portal/accounts/{a}/notifications",
        "subscriptions",
        "Next subscriptions",
        lambda w: [s.id for s in w.container.subscriptions.list(_system(w), w.customer_a)],
        _add_subscriptions,
    ),
}


@pytest.mark.parametrize("which", list(LISTS))
def test_a_list_pages_by_id_with_a_next_link_up_to_the_last_page(world: World, which: str) -> None:
    page, testid, link, existing, add = LISTS[which]
    url = page.format(a=world.customer_a)
    client = world.signed_in("reseller_a")
    had = existing(world)
    # exactly PAGE rows: one page, no "next" link (the page read one row more to know)
    made = add(world, PAGE - len(had))
    assert _walk(client, url, testid, link) == [had + made]
    # one row more: a full page, then a page of one
    made += add(world, 1)
    every = had + made
    pages = _walk(client, url, testid, link)
    assert pages == [every[:PAGE], every[PAGE:]]
    answer = client.get(url)
    cursor = _next(answer.text, link)
    assert cursor is not None
    assert f"={every[PAGE - 1]}" in cursor  # the page's last id
    # another subtree's account is 404 whatever the cursor; a cursor past the end: empty
    other = world.signed_in("reseller_b")
    name = cursor.split("?")[1].split("=")[0]
    assert other.get(f"{url}?{name}={every[0]}").status_code == 404
    assert _ids(client.get(f"{url}?{name}={every[-1]}").text, testid) == []


def test_a_row_of_another_account_is_not_found_from_this_account_s_page(world: World) -> None:
    """The write routes find the row by id in the account's list (one row read): a key,
    identifier, portal user or subscription of another account of the same subtree is
    404, nothing changed."""
    system = _system(world)
    container = world.container
    key = container.auth.issue(system, world.user_a, Role.USER, "of the user").record
    identifier = container.identifiers.add(
        system, world.user_a, IdentifierType.ANI, "15550199", None
    )
    (user,) = container.auth.portal_users(system, world.user_a)
    made = _add_subscriptions(world, 1)
    client = world.signed_in("reseller_a")
    page = f"/portal/accounts/{world.card_a}"
    token = csrf_of(client.get(page).text)
    for action in (
        f"{page}/keys/{key.id}/revoke",
        f"{page}/identifiers/{identifier.id}/remove",
        f"{page}/users/{user.id}/password",
        f"{page}/subscriptions/{made[0]}/delete",
    ):
        assert client.post(action, data={"csrf_token": token}).status_code == 404, action
    (after,) = container.auth.keys(system, world.user_a)
    assert after.revoked_at is None
    assert [i.id for i in container.identifiers.list(system, world.user_a)] == [identifier.id]
    assert [s.id for s in container.subscriptions.list(system, world.customer_a)] == made


def _add_plans(world: World, names: list[str]) -> None:
    with world.container.uow.transaction() as tx:
        for name in names:
            tx.rates.create_plan(
                operator_id=world.root,
                name=name,
                currency="USD",
                decimals=4,
                rounding=RoundingMethod.HALF_UP,
                timezone="UTC",
                holidays=[],
            )


def _plan_rows(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<tr data-name="([^"]+)"', html)]


def test_the_rates_page_lists_plans_a_page_at_a_time_by_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plans table pages by name (``plans_after``; counted a page at a time); the
    price lookup still chooses among every plan the visitor reads."""
    monkeypatch.setattr(rates, "PAGE", 2)
    _add_plans(world, ["c & d plan", "e-plan"])  # a name a link must encode
    admin = world.signed_in("admin")
    every = ["a-retail", "b-retail", "c & d plan", "e-plan"]
    first = admin.get("/portal/rates")
    assert first.status_code == 200, first.text
    assert _plan_rows(first.text) == every[:2]
    for name in every:
        assert f'<option value="{escape(name)}"' in first.text  # the lookup's choice
    cursor = _next(first.text, "Next plans")
    assert cursor == "/portal/rates?plans_after=b-retail"
    second = admin.get(cursor)
    assert _plan_rows(second.text) == every[2:]
    assert _next(second.text, "Next plans") is None  # the last page, though full
    past = admin.get("/portal/rates?plans_after=e-plan")
    assert _plan_rows(past.text) == []
    assert _next(past.text, "Next plans") is None
    assert _plan_rows(admin.get("/portal/rates?plans_after=c %26 d plan").text) == ["e-plan"]
    # a reseller pages through the plans it reads only
    reseller = world.signed_in("reseller_b")
    page = reseller.get("/portal/rates")
    assert _plan_rows(page.text) == ["b-retail"]
    assert _next(page.text, "Next plans") is None
    assert _plan_rows(reseller.get("/portal/rates?plans_after=a").text) == ["b-retail"]
