"""``POST /rate-plans/{name}/deck?dry_run=true``: the import's report (change counts
against the plan's current rates), its refusals, and nothing written."""

from __future__ import annotations

from api_tree import Tree, snapshot

# a-retail holds 44 at 0.10 and 33 at 0.20 (api_tree's deck)
CHANGED = "prefix,rate,destination\n44,0.12,UK\n33,0.15,France\n49,0.05,Germany\n"


def _post(tree: Tree, key: str, name: str, content: str, query: str) -> object:
    return tree.client.post(
        f"/api/v1/rate-plans/{name}/deck{query}",
        content=content,
        headers={**tree.auth(key), "content-type": "text/csv"},
    )


def test_a_dry_run_reports_the_changes_and_writes_nothing(tree: Tree) -> None:
    before = snapshot(tree.container)
    response = _post(tree, tree.admin, "a-retail", CHANGED, "?dry_run=true&replace=true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["import_id"] is None
    assert body["mode"] == "replace"
    assert body["rows_imported"] == 3
    assert body["changes"] == {"increased": 1, "decreased": 1, "new": 1}
    new_plan = _post(tree, tree.admin, "fresh", CHANGED, "?dry_run=true&currency=EUR")
    assert new_plan.status_code == 200, new_plan.text
    assert (new_plan.json()["currency"], new_plan.json()["changes"]) == ("EUR", {"new": 3})
    assert snapshot(tree.container) == before
    # refused as the import would be: a bad row, a new plan without currency, not its plan
    bad = _post(tree, tree.admin, "a-retail", "prefix,rate\n44,abc\n", "?dry_run=true")
    assert (bad.status_code, bad.json()["errors"][0]["line"]) == (422, 2)
    assert _post(tree, tree.admin, "fresh", CHANGED, "?dry_run=true").status_code == 422
    assert _post(tree, tree.key_a, "a-retail", CHANGED, "?dry_run=true").status_code == 403
    assert snapshot(tree.container) == before
    # the same deck imported for real: the counts the dry run promised
    done = _post(tree, tree.admin, "a-retail", CHANGED, "?replace=true")
    assert done.status_code == 201, done.text
    assert done.json()["changes"] == body["changes"]
    assert done.json()["dry_run"] is False
