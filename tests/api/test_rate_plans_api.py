"""Rate plans over HTTP: deck upload (text/csv and multipart), list, show, quote visibility."""

from __future__ import annotations

from api_tree import Tree, snapshot

NEW_DECK = "prefix;rate;destination\n49;0.05;Germany\n4915;0.12;Germany mobile\n"


def upload(tree: Tree, key: str, name: str, content: str, query: str = "") -> object:
    return tree.client.post(
        f"/api/v1/rate-plans/{name}/deck{query}",
        content=content,
        headers={**tree.auth(key), "content-type": "text/csv"},
    )


def test_admin_uploads_a_deck_as_text_csv_and_as_multipart(tree: Tree) -> None:
    created = upload(tree, tree.admin, "wholesale", NEW_DECK, "?currency=EUR")
    assert created.status_code == 201, created.text
    assert created.json()["rows_imported"] == 2
    assert created.json()["currency"] == "EUR"
    again = tree.client.post(
        "/api/v1/rate-plans/wholesale/deck?replace=true",
        files={"file": ("deck.csv", "prefix,rate\n49,0.06\n", "text/csv")},
        headers=tree.auth(tree.admin),
    )
    assert again.status_code == 201, again.text
    assert again.json()["mode"] == "replace"
    assert again.json()["changes"] == {"increased": 1, "removed": 1}
    shown = tree.client.get("/api/v1/rate-plans/wholesale", headers=tree.auth(tree.admin))
    assert shown.status_code == 200
    assert [(r["prefix"], r["rate"]) for r in shown.json()["rates"]] == [("49", "0.06")]


def test_a_bad_deck_imports_nothing_and_names_the_line(tree: Tree) -> None:
    before = snapshot(tree.container)
    bad = "prefix,rate\n49,0.05\n44,abc\n33,0.1\n"
    response = upload(tree, tree.admin, "wholesale", bad, "?currency=EUR")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_rate_deck"
    assert body["errors"][0]["line"] == 3
    assert "line 3" in body["detail"]
    assert snapshot(tree.container) == before
    for content, status in (("", 422), ("\x00\x01", 422)):
        assert upload(tree, tree.admin, "x", content, "?currency=EUR").status_code == status
    wrong_type = tree.client.post(
        "/api/v1/rate-plans/x/deck", json={"a": 1}, headers=tree.auth(tree.admin)
    )
    assert wrong_type.status_code == 415
    assert snapshot(tree.container) == before


def test_a_reseller_uploads_only_into_its_own_plans(tree: Tree) -> None:
    before = snapshot(tree.container)
    # a plan reseller A uses: visible, but the operator's, not its to change
    assert upload(tree, tree.key_a, "a-retail", NEW_DECK).status_code == 403
    # a name the operator has that A does not read: taken, whose not said
    taken = upload(tree, tree.key_a, "b-retail", NEW_DECK)
    assert (taken.status_code, taken.json()["code"]) == (409, "plan_name_taken")
    assert "b-retail" in taken.json()["detail"]
    assert "Reseller" not in taken.json()["detail"]
    # a customer key uploads nothing
    assert upload(tree, tree.key_customer_a, "a-retail", NEW_DECK).status_code == 403
    assert upload(tree, tree.key_customer_a, "b-retail", NEW_DECK).status_code == 404
    assert snapshot(tree.container) == before
    # a new name: A's own plan, which A then imports into again
    made = upload(tree, tree.key_a, "a-own", NEW_DECK, "?currency=USD")
    assert made.status_code == 201, made.text
    again = upload(tree, tree.key_a, "a-own", NEW_DECK, "?replace=true")
    assert again.status_code == 201, again.text
    listed = tree.client.get("/api/v1/rate-plans/a-own", headers=tree.auth(tree.admin)).json()
    assert listed["owner_account_id"] == tree.reseller_a
    # reseller B neither reads it nor writes it
    hidden = tree.client.get("/api/v1/rate-plans/a-own", headers=tree.auth(tree.key_b))
    assert hidden.status_code == 404
    assert upload(tree, tree.key_b, "a-own", NEW_DECK).json()["code"] == "plan_name_taken"


def test_each_key_lists_the_plans_its_subtree_uses(tree: Tree) -> None:
    def names(key: str) -> list[str]:
        response = tree.client.get("/api/v1/rate-plans", headers=tree.auth(key))
        assert response.status_code == 200
        return [p["name"] for p in response.json()["items"]]

    assert names(tree.admin) == ["a-retail", "b-retail"]
    assert names(tree.support_root) == ["a-retail", "b-retail"]
    assert names(tree.key_a) == ["a-retail"]
    assert names(tree.key_customer_a) == ["a-retail"]
    assert names(tree.key_user_a) == ["a-retail"]  # its effective plan (its customer's)
    assert names(tree.key_b) == ["b-retail"]


def test_rates_are_paginated(tree: Tree) -> None:
    first = tree.client.get(
        "/api/v1/rate-plans/a-retail?limit=1", headers=tree.auth(tree.key_a)
    ).json()
    assert first["rows"] == 2
    assert len(first["rates"]) == 1
    rest = tree.client.get(
        f"/api/v1/rate-plans/a-retail?after_id={first['next_after_id']}",
        headers=tree.auth(tree.key_a),
    ).json()
    assert len(rest["rates"]) == 1
    assert rest["next_after_id"] is None
    assert {first["rates"][0]["prefix"], rest["rates"][0]["prefix"]} == {"44", "33"}


def test_quote_needs_a_key_and_a_visible_plan(tree: Tree) -> None:
    body = {"plan": "a-retail", "to": "+44 20 7946 0958", "duration": 60}
    assert tree.client.post("/api/v1/quote", json=body).status_code == 401
    ok = tree.client.post("/api/v1/quote", json=body, headers=tree.auth(tree.key_customer_a))
    assert ok.status_code == 200, ok.text
    assert ok.json()["cost"] == "0.1000"
    hidden = tree.client.post("/api/v1/quote", json=body, headers=tree.auth(tree.key_b))
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "unknown_rate_plan"
