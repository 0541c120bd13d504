"""An account's API keys, identifiers and subscriptions are listed whole as before, or a
page at a time with ``limit`` and ``after_id`` (the ``X-Next-After-Id`` header of a full
page names the next page's); its portal users a page at a time (``next_after_id``), on
SQLite and PostgreSQL. Another subtree's account is 404 whatever the cursor."""

from __future__ import annotations

import pytest
from api_tree import Tree

from voxbill.domain.access import Principal, Role
from voxbill.domain.identifiers import IdentifierType
from voxbill.domain.money import RoundingMethod
from voxbill.domain.notify import Channel


def _system(tree: Tree) -> Principal:
    return Principal(tree.root, f"/{tree.root}/", Role.ADMIN)


def _fill(tree: Tree, which: str, count: int) -> None:
    system, account = _system(tree), tree.customer_a
    container = tree.container
    for n in range(count):
        if which == "api-keys":
            container.auth.issue(system, account, Role.SUPPORT, f"paged {n}")
        elif which == "identifiers":
            container.identifiers.add(system, account, IdentifierType.ANI, f"1555020{n:04d}", None)
        else:
            container.subscriptions.create(
                system,
                account,
                channel=Channel.EMAIL,
                target=f"paged-{n}@example.com",
                events=["topup.received"],
                subtree=False,
            )


@pytest.mark.parametrize("which", ["api-keys", "identifiers", "subscriptions"])
def test_a_bare_list_pages_with_limit_and_after_id(tree: Tree, which: str) -> None:
    _fill(tree, which, 5)
    url = f"/api/v1/accounts/{tree.customer_a}/{which}"
    headers = tree.auth(tree.key_a)
    whole = tree.client.get(url, headers=headers)
    assert whole.status_code == 200, whole.text
    assert "x-next-after-id" not in whole.headers  # as before: every row, no cursor
    ids = [row["id"] for row in whole.json()]
    assert ids == sorted(ids)
    assert len(ids) >= 5
    pages: list[list[int]] = []
    after: str | None = None
    while True:
        query = {"limit": 2, **({"after_id": after} if after else {})}
        page = tree.client.get(url, headers=headers, params=query)
        assert page.status_code == 200, page.text
        pages.append([row["id"] for row in page.json()])
        after = page.headers.get("x-next-after-id")
        if after is None:
            break
        assert int(after) == pages[-1][-1]
    assert [i for p in pages for i in p] == ids
    assert all(len(p) == 2 for p in pages[:-1])
    last = tree.client.get(url, headers=headers, params={"limit": 2, "after_id": ids[-1]})
    assert last.json() == []
    assert "x-next-after-id" not in last.headers
    for bad in ({"limit": 0}, {"limit": 501}, {"after_id": -1}):
        assert tree.client.get(url, headers=headers, params=bad).status_code == 422
    other = f"/api/v1/accounts/{tree.customer_b}/{which}"
    refused = tree.client.get(other, headers=headers, params={"limit": 2, "after_id": 0})
    assert refused.status_code == 404


def test_portal_users_are_listed_a_page_at_a_time(tree: Tree) -> None:
    url = f"/api/v1/accounts/{tree.customer_a}/users"
    headers = tree.auth(tree.key_a)
    made = []
    for n in range(3):
        answer = tree.client.post(
            url,
            headers=headers,
            json={"email": f"Paged-{n}@Example.com", "role": "customer", "password": "x" * 12},
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    first = tree.client.get(url, headers=headers, params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [u["id"] for u in body["items"]] == made[:2]
    assert body["items"][0]["email"] == "paged-0@example.com"
    assert "password_hash" not in body["items"][0]
    assert body["next_after_id"] == made[1]
    rest = tree.client.get(url, headers=headers, params={"limit": 2, "after_id": made[1]})
    assert rest.json() == {"items": [rest.json()["items"][0]], "next_after_id": None}
    assert rest.json()["items"][0]["id"] == made[2]
    assert tree.client.get(url, headers=tree.auth(tree.key_b)).status_code == 404
    support = tree.client.get(url, headers=tree.auth(tree.support_a))
    assert support.status_code == 200  # a read


def test_rate_plans_are_listed_whole_or_a_page_at_a_time_by_name(tree: Tree) -> None:
    with tree.container.uow.transaction() as tx:
        for name in ("c-plan", "d-plan"):
            tx.rates.create_plan(
                operator_id=tree.root,
                name=name,
                currency="USD",
                decimals=4,
                rounding=RoundingMethod.HALF_UP,
                timezone="UTC",
                holidays=[],
            )
    url = "/api/v1/rate-plans"
    headers = tree.auth(tree.admin)
    whole = tree.client.get(url, headers=headers).json()
    assert [p["name"] for p in whole["items"]] == ["a-retail", "b-retail", "c-plan", "d-plan"]
    assert whole["next_after"] is None  # as before: every plan
    first = tree.client.get(url, headers=headers, params={"limit": 3}).json()
    assert [p["name"] for p in first["items"]] == ["a-retail", "b-retail", "c-plan"]
    assert first["next_after"] == "c-plan"
    assert first["items"][0]["rows"] == 2  # a page's plans are counted
    rest = tree.client.get(url, headers=headers, params={"limit": 3, "after": "c-plan"}).json()
    assert [p["name"] for p in rest["items"]] == ["d-plan"]
    assert rest["next_after"] is None
    # a reseller pages through the plans it reads only
    mine = tree.client.get(url, headers=tree.auth(tree.key_b), params={"limit": 1}).json()
    assert [p["name"] for p in mine["items"]] == ["b-retail"]
    after = {"limit": 1, "after": "b-retail"}
    assert tree.client.get(url, headers=tree.auth(tree.key_b), params=after).json() == {
        "items": [],
        "next_after": None,
    }
    for bad in ({"limit": 0}, {"after": ""}, {"after": "x" * 101}):
        assert tree.client.get(url, headers=headers, params=bad).status_code == 422
